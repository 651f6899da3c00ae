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

"""Watcher's engine loader and the ``nova_migrate`` workflow engine.

The loaders of the installed Watcher, on a configuration of their own:
the engine is found by its entry point in ``watcher_workflow_engines``,
takes its options from ``[watcher_workflow_engines.nova_migrate]``, and
builds ``migrate`` actions with this plugin, every other type as
Watcher would.
"""

import pytest

from embedded_watcher import deployment
from watcher.applier.loading import default as watcher_loading
from watcher.applier.workflow_engine import default as watcher_engine
from watcher.common.loader import default as watcher_loader
from watcher_migrate import action
from watcher_migrate import workflow_engine

SERVER = '0b8bd4ab-7c11-4b43-a3b1-64a6b8a7c5a3'
WATCHER_CONF = """\
[watcher_workflow_engines.nova_migrate]
max_workers = 3
action_execution_rule = host_maintenance:ANY

[watcher_actions.nova_migrate]
live_timeout = 7
"""


class DbAction(object):
    """What the factory reads of a database action."""

    uuid = '6c3a4bf6-5b3e-4bd4-9b8c-7d5e4f9a1b20'

    def __init__(self, action_type, input_parameters):
        self.action_type = action_type
        self.input_parameters = input_parameters


@pytest.fixture
def conf(tmp_path, monkeypatch):
    conf = deployment.applier_conf(tmp_path, monkeypatch, WATCHER_CONF)
    # Watcher's action loader is bound to the process-wide configuration,
    # which the applier tests of this session parse for themselves.
    monkeypatch.setattr(
        watcher_loading, 'DefaultActionLoader',
        lambda: watcher_loader.DefaultLoader('watcher_actions', conf=conf))
    return conf


@pytest.fixture
def engine(conf):
    loader = watcher_loading.DefaultWorkFlowEngineLoader()
    loader.conf = conf
    return loader.load('nova_migrate')


def migrate_parameters():
    return {'resource_id': SERVER, 'migration_type': 'live',
            'source_node': 'host1', 'destination_node': 'host2'}


def test_the_engine_is_watchers_taskflow_engine(engine):
    assert type(engine) is workflow_engine.NovaMigrateWorkFlowEngine
    assert isinstance(engine, watcher_engine.DefaultWorkFlowEngine)


def test_the_engine_reads_its_options_from_its_own_group(engine):
    assert engine.config.max_workers == 3
    assert engine.config.action_execution_rule == {
        'host_maintenance': 'ANY'}


def test_a_migrate_action_is_built_as_nova_migrate_with_its_options(engine):
    built = engine.action_factory.make_action(
        DbAction('migrate', migrate_parameters()))
    assert type(built) is action.Migrate
    assert built.settings.live_timeout == 7
    assert built.input_parameters == migrate_parameters()


def test_a_nova_migrate_action_is_built_as_before(engine):
    built = engine.action_factory.make_action(
        DbAction('nova_migrate', migrate_parameters()))
    assert type(built) is action.Migrate


def test_other_action_types_keep_watchers_own_classes(engine):
    built = engine.action_factory.make_action(
        DbAction('nop', {'message': 'hello'}))
    assert type(built).__module__.startswith('watcher.applier.actions')
    assert type(built).__name__ == 'Nop'


def test_invalid_migrate_parameters_are_refused_naming_the_parameter(engine):
    parameters = dict(migrate_parameters(), migration_type='warm')
    with pytest.raises(Exception, match="'migration_type'"):
        engine.action_factory.make_action(DbAction('migrate', parameters))
