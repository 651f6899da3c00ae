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

"""The real Nova in its own process, Watcher's deployment, the kill tally.

Tests marked ``kills`` run only with ``WATCHER_MIGRATE_KILLS_RUN=1``
(tox -e kills); otherwise they are deselected, not skipped. The others
(tests of the harness itself) run in any env that has nova; only the
applier victim needs python-watcher (the kills env has it), so
embedded_watcher is imported by the fixture that uses it.
"""

import os

import pytest

from tests import embedded_cloud
from tests.kills import tally as kill_tally

KILLS_ENV = 'WATCHER_MIGRATE_KILLS_RUN'
TALLY = kill_tally.Tally()


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'kills: SIGKILL of the applier and the CLI at random '
                   'moments; only with %s=1 (tox -e kills)' % KILLS_ENV)


def pytest_collection_modifyitems(config, items):
    if os.environ.get(KILLS_ENV) == '1':
        return
    kills = [item for item in items if item.get_closest_marker('kills')]
    if kills:
        config.hook.pytest_deselected(items=kills)
        items[:] = [item for item in items if item not in kills]


def pytest_terminal_summary(terminalreporter):
    if TALLY.iterations:
        terminalreporter.write_line('')
        terminalreporter.write_line('kill runs:')
        for line in TALLY.table():
            terminalreporter.write_line(line)


@pytest.fixture(scope='session')
def tally():
    """The run's :class:`Tally`, printed at the end of the session."""
    return TALLY


@pytest.fixture(scope='session')
def cloud(tmp_path_factory):
    """The running :class:`EmbeddedNova` with hosts host1..host4."""
    with embedded_cloud.running_nova(
            tmp_path_factory.mktemp('embedded-nova'), embedded_cloud.HOSTS,
            tox_env='kills') as nova:
        yield nova


@pytest.fixture(scope='session')
def watcher(cloud, tmp_path_factory):
    """Watcher's :class:`Deployment` (watcher.conf, database) for appliers."""
    from embedded_watcher import deployment  # needs python-watcher
    site = deployment.Deployment(tmp_path_factory.mktemp('watcher'), cloud)
    embedded_cloud.show_on_failure('watcher.conf, applier logs: %s'
                                   % site.directory)
    return site.create()
