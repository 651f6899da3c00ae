# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""Names of watcher_migrate/ used only from outside it, for vulture.

Read (never run) by the dead-code check of ``tools/tox -e pep8``, which
scans watcher_migrate/ alone: a use by the tests does not count, so
anything not named here and not used by the package itself is dead.
vulture matches by name: an entry covers every definition of that name.
"""

import argparse

from oslo_config import cfg

from watcher_migrate import action
from watcher_migrate import action_base
from watcher_migrate import context
from watcher_migrate import notifications
from watcher_migrate import options
from watcher_migrate import plan_runner
from watcher_migrate import workflow_engine

# setup.cfg entry points, loaded by name.
options.list_opts  # oslo.config.opts: oslo-config-generator
workflow_engine.NovaMigrateWorkFlowEngine  # watcher_workflow_engines

# Watcher's BaseAction contract (KNOWN_CONTRACT in
# tests/watcher/test_watcher_action_interface.py), called by the applier.
action_base.BaseAction.get_config_opts  # the loader: the option group
action_base.BaseAction.schema  # BaseAction.validate_parameters
action_base.BaseAction.get_description  # the applier's Syncer
action_base.BaseAction.revert  # the taskflow engine, plan reverted
action_base.BaseAction.resource_id  # public attribute of the contract
action_base.BaseAction.check_abort  # the contract; ours overrides it
# Read by Watcher's BaseAction.check_abort and the vm_workload_
# consolidation strategy from the migrate action class.
action.Migrate.LIVE_MIGRATION
action.Migrate.COLD_MIGRATION

# Library hooks.
plan_runner.ActionTask.revert  # taskflow's Task interface
argparse.ArgumentParser.required  # subparsers.required: argparse
cfg.Opt.required  # read by oslo.config when the file is parsed

# Nova's notifications (issue #17): the API the tracker is to use once it
# wires NotificationSource in; remove each entry as it gets a caller.
context.ProcessContext.stop_listening
notifications.NotificationEvent.request_id  # matching the move's request

# Read by the benchmark's applier (embedded_watcher/applier_main.py).
context.ProcessContext.notification_counts
