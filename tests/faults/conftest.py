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

"""The real Nova (embedded, 127.0.0.1) and a fault proxy in front of it.

``WATCHER_MIGRATE_NOVA_PYTHON`` names the python that runs Nova (see
tests/embedded_cloud.py). Nothing here skips: without nova the tests
fail.

Tests marked ``soak`` run only with ``WATCHER_MIGRATE_SOAK=1`` (tox -e
soak); otherwise they are deselected, not skipped.
"""

import os

import pytest

from tests import embedded_cloud
from tests.faults import fault_proxy
from tests.faults import harness

HOSTS = harness.HOSTS
SOAK_ENV = 'WATCHER_MIGRATE_SOAK'


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'soak: long randomized fault run; only with %s=1 '
                   '(tox -e soak)' % SOAK_ENV)
    config.addinivalue_line(
        'markers', 'pool(count): the test takes that many servers at once; '
                   'the pool boots them in the background from the start')


def pytest_collection_modifyitems(config, items):
    if os.environ.get(SOAK_ENV) == '1':
        return
    soak = [item for item in items if item.get_closest_marker('soak')]
    if soak:
        config.hook.pytest_deselected(items=soak)
        items[:] = [item for item in items if item not in soak]


@pytest.fixture(scope='session')
def cloud(tmp_path_factory):
    """The running :class:`EmbeddedNova` with hosts host1..host4."""
    with embedded_cloud.running_nova(
            tmp_path_factory.mktemp('embedded-nova'), HOSTS,
            tox_env='faults') as nova:
        yield nova


@pytest.fixture(scope='session')
def server_pool(cloud, request):
    """The :class:`harness.ServerPool` every test takes servers from."""
    pool = harness.ServerPool(cloud, HOSTS)
    wanted = [marker.args[0] for item in request.session.items
              for marker in item.iter_markers('pool')]
    if wanted:
        pool.prefill(max(wanted))
    return pool


@pytest.fixture
def server(server_pool):
    """An ACTIVE, idle :class:`harness.Server` (id, host) for one test."""
    given = server_pool.take()
    yield given
    server_pool.give_back(given)


@pytest.fixture
def proxy(cloud):
    """A :class:`FaultProxy` in front of the cloud, no rules yet."""
    with fault_proxy.FaultProxy(harness.base_url(cloud)) as relay:
        yield relay
