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

"""Watcher's action loader and the ``[watcher_actions.nova_migrate]`` group.

The loader of the installed Watcher, on a configuration of its own (not
the process-wide one): it finds the plugin by its entry point, registers
the plugin's options under ``watcher_actions.nova_migrate``, re-reads the
configuration files and hands the group's values to the action.
"""

import pytest

from embedded_watcher import deployment
from watcher.common import exception as watcher_exception
from watcher.common.loader import default as watcher_loader
from watcher_migrate import action
from watcher_migrate import exceptions

WATCHER_CONF = """\
[watcher_actions.nova_migrate]
poll_interval_min = 0.1
live_timeout = 3
"""


@pytest.fixture
def conf(tmp_path, monkeypatch):
    conf = deployment.applier_conf(tmp_path, monkeypatch, WATCHER_CONF)
    return conf


def load(conf):
    loader = watcher_loader.DefaultLoader('watcher_actions', conf=conf)
    return loader.load('nova_migrate')


def test_the_loader_builds_migrate_with_the_values_of_its_group(conf):
    loaded = load(conf)
    assert type(loaded) is action.Migrate
    assert loaded.config['poll_interval_min'] == 0.1
    assert loaded.config['live_timeout'] == 3
    assert loaded.settings.live_timeout == 3


def test_loading_the_plugin_keeps_watcher_conf_reloadable(conf):
    load(conf)
    # Watcher's loader reloads the files after registering the group; a
    # failure there is only logged, but leaves the files unreloadable, and
    # mutate_config_files (oslo.service on SIGHUP) raises.
    assert conf.reload_config_files() is True
    conf.mutate_config_files()


def test_the_plugins_errors_are_the_installed_watchers_own():
    # Watcher stores str(e) only for its own exceptions. ActionSkipped
    # exists from 15.0 on; before, a skip is a WatcherException like the
    # rest (and the engine fails the action).
    assert issubclass(exceptions.ActionFailed,
                      watcher_exception.ActionExecutionFailure)
    skipped = getattr(watcher_exception, 'ActionSkipped',
                      watcher_exception.WatcherException)
    assert issubclass(exceptions.ActionSkipped, skipped)
