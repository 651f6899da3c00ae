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

"""A Watcher deployment around the embedded Nova (tests/watcher, bench).

The test (or bench) process plays Watcher's API and decision engine: it writes
watcher.conf, creates the sqlite database (a file, in WAL mode, so that
several processes can use it) with Watcher's schema, and creates the goal,
strategy, audit, action plans and actions with Watcher's own objects. It is
never monkey patched.

Each applier run is a child process (applier_main.py) that starts like
``watcher-applier`` from a watcher.conf of its own, in the threading mode
the run asks for, launches the given plans and exits once they are final.
The calling process then reads the outcome from the database.
"""

import importlib
from importlib import metadata
import json
import os
import sqlite3
import subprocess
import sys
import time

from oslo_config import cfg
from oslo_db import exception as db_exception
import sqlalchemy
from watcher.common import context as watcher_context
from watcher.common import exception
from watcher.common import service as watcher_service
from watcher.db import migration
from watcher import objects

from watcher_migrate import options

APPLIER_MAIN = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            'applier_main.py')

# Watcher decides at import time, from this variable, whether it runs on
# eventlet (monkey patched) or on native threads.
PATCHING_VARIABLE = 'OS_WATCHER_DISABLE_EVENTLET_PATCHING'
MODES = {'threading': '1', 'eventlet': '0'}

# What the installed release is and offers, read from its code. Its
# engine modules read objects.action_plan at import (13.x-15.x): register
# the objects first, as prepare_service does.
WATCHER_VERSION = metadata.version('python-watcher')
WATCHER_MAJOR = int(WATCHER_VERSION.split('.')[0])
objects.register_all()
base_engine = importlib.import_module(
    'watcher.applier.workflow_engine.base')
default_engine = importlib.import_module(
    'watcher.applier.workflow_engine.default')
# Native threads only where the engine picks taskflow's executor by
# watcher.eventlet.is_patched() (16.0+, workflow_engine/default.py). In
# 13.x-15.x it always runs "greenthreaded" and its action containers
# eventlet.spawn the execute (workflow_engine/base.py): eventlet only.
SUPPORTED_MODES = tuple(sorted(
    ['eventlet'] + (['threading'] if hasattr(default_engine, 'eventlet_helper')
                    else [])))
# The mode of a run that needs one: Watcher 17's default where there is one.
DEFAULT_MODE = 'threading' if 'threading' in SUPPORTED_MODES else 'eventlet'
# The SKIPPED state and status_message came in 15.0: before, an action
# whose pre_condition raises is FAILED, its reason only in the applier log.
HAS_SKIPPED = hasattr(objects.action.State, 'SKIPPED')
HAS_STATUS_MESSAGE = 'status_message' in objects.Action.fields
# The plan's state once its actions ran and one of them FAILED: 13.x's
# DefaultActionPlanHandler.execute (applier/action_plan/default.py) sets
# SUCCEEDED whatever the actions did; 14.0 looks for FAILED actions.
PLAN_STATE_WITH_A_FAILED_ACTION = 'FAILED' if WATCHER_MAJOR >= 14 \
    else 'SUCCEEDED'
# <= 15.x: each action's execute runs in a greenthread the engine kills
# when the plan is cancelled, then taskflow's revert calls abort()
# (workflow_engine/base.py, BaseTaskFlowActionContainer.execute, which
# imports eventlet for it); 16.0+ let the running action finish and cancel
# only the actions not started.
CANCEL_KILLS_RUNNING_ACTION = hasattr(base_engine, 'eventlet')

NOVA_MIGRATE = options.ENTRY_POINT
BUILTIN_MIGRATE = 'migrate'
# Watcher's default workflow engine, and this plugin's alias engine (the
# same, with "migrate" actions built as nova_migrate).
TASKFLOW = 'taskflow'
ALIAS_ENGINE = 'nova_migrate'
APPLIER_HOST = 'watcher-applier-under-test'
APPLIER_TIMEOUT = 300

# What every run's [watcher_actions.nova_migrate] holds, before overrides:
# fast polling for quick tests. REAL_DEFAULTS instead leaves the options
# out, so that the plugin runs with its own defaults (the benchmark).
PLUGIN_OPTIONS = {'poll_interval_min': 0.1, 'poll_interval_max': 1,
                  'settle_timeout': 60}
REAL_DEFAULTS = {}

# What every run's [nova] holds, before overrides: read by the built-in
# migrate action. Watcher's own defaults are migration_interval = 5,
# migration_max_retries = 180.
NOVA_OPTIONS = {'migration_interval': 1, 'migration_max_retries': 120,
                'http_retries': 1, 'http_retry_interval': 0.5}

# Parallel actions of a plan really run in parallel (Watcher's default is
# the number of CPUs).
MAX_WORKERS = 4

WATCHER_CONF = """\
[DEFAULT]
host = {host}
transport_url = fake:/
debug = true

[oslo_messaging_notifications]
driver = test

[database]
# A busy timeout of 60 s, not pysqlite's 5: with every transaction
# taking the write lock (applier_main), 50 parallel actions on 2 CPUs
# can queue longer than 5 s for it ("database is locked").
connection = sqlite:///{database}?timeout=60

[watcher_applier]
workflow_engine = {workflow_engine}

[watcher_workflow_engines.{workflow_engine}]
max_workers = {max_workers}

[watcher_clients_auth]
auth_type = password
auth_url = {cloud.auth_url}
username = {cloud.username}
password = {cloud.password}
project_name = {cloud.project_name}
user_domain_name = {cloud.user_domain_name}
project_domain_name = {cloud.project_domain_name}

# Read by the built-in migrate action (openstacksdk, [nova] adapter
# options, [watcher_clients_auth] credentials).
[nova]
region_name = {cloud.region_name}
valid_interfaces = public
{nova_options}

[watcher_actions.{plugin}]
{plugin_options}
"""


class ApplierError(AssertionError):
    """An applier run did not end as an applier run should."""


class Step(object):
    """One migration of an action plan and the steps it must wait for."""

    def __init__(self, server, kind, source, destination, after=(),
                 action_type=NOVA_MIGRATE, parameters=None):
        """One action of the plan.

        :param parameters: input_parameters as given, instead of the
            ones built from the other arguments (a stock strategy's shape)
        """
        self.server = server
        self.kind = kind
        self.source = source
        self.destination = destination
        self.after = tuple(after)
        self.action_type = action_type
        self.parameters = parameters

    def input_parameters(self):
        if self.parameters is not None:
            return dict(self.parameters)
        return {'resource_id': self.server, 'migration_type': self.kind,
                'source_node': self.source,
                'destination_node': self.destination}


def placement(cloud, server):
    """Where Nova has a server: (host, status, task_state)."""
    info = cloud.server(server)
    return (info['OS-EXT-SRV-ATTR:host'], info['status'],
            info.get('OS-EXT-STS:task_state'))


def four_moves(cloud, action_type=NOVA_MIGRATE):
    """Live and cold moves of three new servers, parallel and chained.

    :returns: the servers, the steps, and the placement of each server
        once all steps succeeded
    """
    first = cloud.create_server('host1')
    second = cloud.create_server('host1')
    third = cloud.create_server('host2')
    there = Step(first, 'live', 'host1', 'host2', action_type=action_type)
    # Chained: its pre_condition would skip it before the live move ended.
    further = Step(first, 'cold', 'host2', 'host3', after=[there],
                   action_type=action_type)
    # Both in parallel with the chain.
    alongside = Step(second, 'cold', 'host1', 'host4',
                     action_type=action_type)
    back = Step(third, 'live', 'host2', 'host1', action_type=action_type)
    expected = [('host3', 'ACTIVE', None), ('host4', 'ACTIVE', None),
                ('host1', 'ACTIVE', None)]
    return [first, second, third], [there, further, alongside, back], expected


class Plan(object):
    """An action plan in the database: its uuid and its actions' uuids."""

    def __init__(self, uuid, action_uuids):
        self.uuid = uuid
        self.action_uuids = action_uuids


class Outcome(object):
    """A plan as the applier left it: states and status messages."""

    def __init__(self, action_plan, actions):
        self.state = action_plan.state
        # None where the release has no status_message (<= 14.x).
        self.status_message = getattr(action_plan, 'status_message', None)
        self.action_states = [a.state for a in actions]
        self.action_messages = [getattr(a, 'status_message', None)
                                for a in actions]

    def __repr__(self):
        return ('<plan %s (%s); actions %s; messages %s>'
                % (self.state, self.status_message, self.action_states,
                   self.action_messages))


class Deployment(object):
    """watcher.conf, the database and applier runs, in one directory."""

    def __init__(self, directory, cloud, python=sys.executable):
        self.directory = str(directory)
        self.cloud = cloud
        self.python = python
        self.database = os.path.join(self.directory, 'watcher.sqlite')
        self.conf_file = os.path.join(self.directory, 'watcher.conf')
        self.context = None
        self.audit = None
        self._runs = 0

    # -- set-up, as the operator and the API would -------------------------

    def write_conf(self, path, plugin_options=None, nova_options=None,
                   max_workers=MAX_WORKERS, workflow_engine=TASKFLOW):
        """Write a watcher.conf.

        :param plugin_options: [watcher_actions.nova_migrate], in full
            (default: PLUGIN_OPTIONS; REAL_DEFAULTS for none at all)
        :param nova_options: [nova] besides the endpoint, in full
            (default: NOVA_OPTIONS; {} for Watcher's defaults)
        """
        if plugin_options is None:
            plugin_options = PLUGIN_OPTIONS
        if nova_options is None:
            nova_options = NOVA_OPTIONS
        with open(path, 'w') as handle:
            handle.write(WATCHER_CONF.format(
                host=APPLIER_HOST, database=self.database, cloud=self.cloud,
                plugin=NOVA_MIGRATE, max_workers=int(max_workers),
                workflow_engine=workflow_engine,
                nova_options=_ini_lines(nova_options),
                plugin_options=_ini_lines(plugin_options)))
        return path

    def create(self):
        """Parse watcher.conf here, create the database and an audit."""
        self.write_conf(self.conf_file)
        watcher_service.prepare_service(
            ['watcher-tests', '--config-file', self.conf_file, '--log-file',
             os.path.join(self.directory, 'tests.log')])
        # WAL: readers and the writer of several processes do not block
        # each other; the mode is stored in the file.
        with sqlite3.connect(self.database) as connection:
            connection.execute('PRAGMA journal_mode=WAL')
        migration.create_schema()
        self.context = watcher_context.make_context(is_admin=True)
        goal = objects.Goal(self.context, name='server_consolidation',
                            display_name='Server consolidation',
                            efficacy_specification=[])
        goal.create()
        strategy = objects.Strategy(self.context, name='nova_migrate_test',
                                    display_name='nova_migrate test',
                                    goal_id=goal.id, parameters_spec={})
        strategy.create()
        self.audit = objects.Audit(
            self.context, name='nova_migrate test audit',
            audit_type='ONESHOT', state=objects.audit.State.SUCCEEDED,
            goal_id=goal.id, strategy_id=strategy.id, parameters={},
            scope=[], auto_trigger=False, hostname=APPLIER_HOST)
        self.audit.create()
        return self

    def create_plan(self, steps):
        """A PENDING action plan whose actions are ``steps``, in order."""
        plan = objects.ActionPlan(
            self.context, audit_id=self.audit.id,
            strategy_id=self.audit.strategy_id,
            state=objects.action_plan.State.PENDING, global_efficacy=[])
        plan.create()
        uuids = {}
        for step in steps:
            action = objects.Action(
                self.context, action_plan_id=plan.id,
                action_type=step.action_type,
                input_parameters=step.input_parameters(),
                state=objects.action.State.PENDING,
                parents=[uuids[id(parent)] for parent in step.after])
            action.create()
            uuids[id(step)] = action.uuid
        return Plan(plan.uuid, [uuids[id(step)] for step in steps])

    # -- the applier -------------------------------------------------------

    def run_applier(self, mode, plans=(), plugin_defaults=None,
                    nova_options=None, nova_defaults=None,
                    max_workers=MAX_WORKERS, applier_timeout=APPLIER_TIMEOUT,
                    workflow_engine=TASKFLOW, **plugin_options):
        """Start an applier in ``mode``, run ``plans``, wait until it exits.

        :param plugin_defaults: [watcher_actions.nova_migrate] before
            ``plugin_options`` (default PLUGIN_OPTIONS, fast test values;
            REAL_DEFAULTS: the plugin's own defaults)
        :param nova_options: overrides for [nova] (e.g.
            ``{'migration_interval': 5}``)
        :param nova_defaults: [nova] before ``nova_options`` (default
            NOVA_OPTIONS; {} for Watcher's own defaults)
        :param max_workers: max_workers of the workflow engine's group
        :param workflow_engine: [watcher_applier] workflow_engine
        :param applier_timeout: seconds the run may take in all
        :param plugin_options: overrides for [watcher_actions.nova_migrate]
        :returns: what the applier reported (applier_main.py): the plans'
            states, their wall time and the applier's CPU seconds; and
            ``log_file``, the applier's log
        :raises ApplierError: if it failed, hung or ran in the wrong mode
        """
        self._runs += 1
        name = 'applier-%02d-%s' % (self._runs, mode)
        plugin_values = dict(PLUGIN_OPTIONS if plugin_defaults is None
                             else plugin_defaults)
        plugin_values.update(plugin_options)
        nova_values = dict(NOVA_OPTIONS if nova_defaults is None
                           else nova_defaults)
        nova_values.update(nova_options or {})
        conf_file = self.write_conf(
            os.path.join(self.directory, name + '.conf'),
            plugin_options=plugin_values, nova_options=nova_values,
            max_workers=max_workers, workflow_engine=workflow_engine)
        log_file = os.path.join(self.directory, name + '.log')
        result_file = os.path.join(self.directory, name + '.json')
        output_file = os.path.join(self.directory, name + '.out')
        command = [self.python, APPLIER_MAIN, '--config-file', conf_file,
                   '--log-file', log_file, '--result-file', result_file,
                   '--timeout', str(max(applier_timeout - 60,
                                        applier_timeout * 0.8))]
        for plan in plans:
            command += ['--action-plan', plan.uuid]
        env = dict(os.environ)
        env[PATCHING_VARIABLE] = MODES[mode]
        with open(output_file, 'wb') as output:
            try:
                returncode = subprocess.run(
                    command, stdin=subprocess.DEVNULL, stdout=output,
                    stderr=subprocess.STDOUT, env=env,
                    timeout=applier_timeout).returncode
            except subprocess.TimeoutExpired:
                returncode = 'killed after %d s' % applier_timeout
        if returncode != 0:
            raise ApplierError('applier exited with %s\n%s\n%s'
                               % (returncode, _tail(output_file),
                                  _tail(log_file)))
        with open(result_file) as handle:
            result = json.load(handle)
        result['log_file'] = log_file
        if result['eventlet_patched'] != (mode == 'eventlet'):
            raise ApplierError('applier asked to run in %s mode ran with '
                               'eventlet_patched=%s'
                               % (mode, result['eventlet_patched']))
        return result

    def cancel(self, plan):
        """Cancel an ONGOING plan as the API does: state CANCELLING.

        ``PATCH /v1/action_plans/{uuid}`` with state CANCELLING
        (api/controllers/v1/action_plan.py, the allowed transition ONGOING
        -> CANCELLING) only saves the new state; the applier's engine
        notices it in the database.
        """
        deadline = time.monotonic() + 30
        while True:
            # Eager: save() sends the update notification, which needs
            # the audit and strategy loaded.
            action_plan = objects.ActionPlan.get_by_uuid(
                self.context, plan.uuid, eager=True)
            assert action_plan.state == objects.action_plan.State.ONGOING, \
                'cannot cancel a plan in state %s' % action_plan.state
            action_plan.state = objects.action_plan.State.CANCELLING
            try:
                action_plan.save()
                return
            except (db_exception.DBError, sqlalchemy.exc.OperationalError):
                # sqlite "database is locked": the applier wrote between
                # our read and our write (see applier_main's
                # serialize_sqlite_transactions); read again and retry.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    # -- reading the outcome -----------------------------------------------

    def outcome(self, plan):
        action_plan = objects.ActionPlan.get_by_uuid(self.context, plan.uuid)
        actions = [objects.Action.get_by_uuid(self.context, uuid)
                   for uuid in plan.action_uuids]
        return Outcome(action_plan, actions)

    def action_description(self, action_type):
        """The description the applier stored for ``action_type``."""
        return objects.ActionDescription.get_by_type(
            self.context, action_type).description

    def set_action_description(self, action_type, description):
        try:
            stored = objects.ActionDescription.get_by_type(self.context,
                                                           action_type)
        except exception.ActionDescriptionNotFound:
            objects.ActionDescription(self.context, action_type=action_type,
                                      description=description).create()
            return
        stored.description = description
        stored.save()


def applier_conf(tmp_path, monkeypatch, text):
    """A configuration parsed from ``text`` as watcher-applier parses it.

    Its own ConfigOpts, not the process-wide one; sys.argv is the
    applier's command line, which the loader of 13.x-16.x parses again
    (_reload_config calls conf() without arguments).
    """
    path = tmp_path / 'watcher.conf'
    path.write_text(text)
    monkeypatch.setattr(sys, 'argv',
                        ['watcher-applier', '--config-file', str(path)])
    conf = cfg.ConfigOpts()
    conf(sys.argv[1:], project='watcher')
    return conf


def _ini_lines(values):
    return '\n'.join('%s = %s' % item for item in sorted(values.items()))


def _tail(path, lines=60):
    if not os.path.exists(path):
        return '(no %s)' % path
    with open(path, 'rb') as handle:
        text = handle.read().decode('utf-8', 'replace')
    return '--- %s:\n%s' % (path, '\n'.join(text.splitlines()[-lines:]))
