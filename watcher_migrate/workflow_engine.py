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

"""Watcher's taskflow engine, running the built-in ``migrate`` with us.

Watcher's stock strategies all emit actions of type ``migrate``, and a
planner plugin cannot change that (each strategy hard-codes its planner,
and strategies check the name ``migrate`` themselves). The applier's
workflow engine is where an action type becomes an action class, so this
engine is Watcher's own ``DefaultWorkFlowEngine`` with one difference:
an action of type ``migrate`` is built with this plugin's ``Migrate``
(options from ``[watcher_actions.nova_migrate]``). Plans, the database,
the API and the strategies keep seeing ``migrate``.

Select it with ``[watcher_applier] workflow_engine = nova_migrate``; its
options (``max_workers``, ``action_execution_rule``) are those of the
taskflow engine, read from ``[watcher_workflow_engines.nova_migrate]``.
Importable only where Watcher is installed (the applier).
"""

from oslo_config import cfg
from oslo_log import log
from watcher.applier.loading import default as loading
from watcher.applier.workflow_engine import default

from watcher_migrate import options

LOG = log.getLogger(__name__)

#: The entry point of this engine in ``watcher_workflow_engines``.
ENGINE_NAME = 'nova_migrate'
#: The action type this engine runs with the plugin.
ALIASED_ACTION_TYPE = 'migrate'
ENGINE_GROUP = 'watcher_workflow_engines.' + ENGINE_NAME
TASKFLOW_GROUP = 'watcher_workflow_engines.taskflow'


class AliasActionFactory(object):
    """Watcher's ActionFactory, but ``migrate`` is built as nova_migrate.

    :param builtin: Watcher's factory, for every other action type
    """

    def __init__(self, builtin):
        self._builtin = builtin
        self._loader = loading.DefaultActionLoader()

    def make_action(self, object_action, osc=None):
        if object_action.action_type != ALIASED_ACTION_TYPE:
            return self._builtin.make_action(object_action, osc=osc)
        LOG.debug('Building %s action %s with the %s plugin',
                  ALIASED_ACTION_TYPE, object_action.uuid,
                  options.ENTRY_POINT)
        # Loaded as Watcher loads a nova_migrate action: the options of
        # [watcher_actions.nova_migrate], Watcher's clients.
        action = self._loader.load(name=options.ENTRY_POINT, osc=osc)
        action.input_parameters = object_action.input_parameters
        action.action_uuid = object_action.uuid
        action.validate_parameters()
        return action


class NovaMigrateWorkFlowEngine(default.DefaultWorkFlowEngine):
    """Watcher's taskflow engine; ``migrate`` actions run as nova_migrate."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._alias_factory = AliasActionFactory(super().action_factory)
        _warn_of_unused_taskflow_group(cfg.CONF)

    @property
    def action_factory(self):
        return self._alias_factory


def _warn_of_unused_taskflow_group(conf):
    """Say so when the operator tuned the engine this one replaces."""
    sections = conf.list_all_sections()
    if TASKFLOW_GROUP in sections and ENGINE_GROUP not in sections:
        LOG.warning('[%s] does not apply to the %s workflow engine: its '
                    'options (max_workers, action_execution_rule) are read '
                    'from [%s]', TASKFLOW_GROUP, ENGINE_NAME, ENGINE_GROUP)
