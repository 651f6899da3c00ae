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
soak); otherwise they are deselected, not skipped. With
``WATCHER_MIGRATE_SOAK_NOTIFICATIONS=1`` the ``cloud`` publishes its
versioned notifications to the session's ``broker`` (the soak's
notification mode).

The broker fault tests have a Nova of their own that publishes to a
broker they may stop and start again (``restartable_broker``).
"""

import os

import pytest

from tests import broker as private_broker
from tests import embedded_cloud
from tests.faults import fault_proxy
from tests.faults import harness

HOSTS = harness.HOSTS
PUBLISHING_HOSTS = ('host1', 'host2')
SOAK_ENV = 'WATCHER_MIGRATE_SOAK'
SOAK_NOTIFICATIONS_ENV = 'WATCHER_MIGRATE_SOAK_NOTIFICATIONS'


def soak_notifications():
    """Whether the soak runs with Nova publishing, the plugin listening."""
    return os.environ.get(SOAK_NOTIFICATIONS_ENV) == '1'


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
def cloud(tmp_path_factory, request):
    """The running :class:`EmbeddedNova` with hosts host1..host4.

    It publishes nothing, unless in the soak's notification mode.
    """
    url = None
    if soak_notifications():
        url = request.getfixturevalue('broker').url
    with embedded_cloud.running_nova(
            tmp_path_factory.mktemp('embedded-nova'), HOSTS,
            tox_env='faults', notification_url=url) as nova:
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


@pytest.fixture(scope='session')
def restartable_broker():
    """A private RabbitMQ the tests may take down and bring up again.

    On a port of its own, not 5672: nobody else takes it meanwhile.
    """
    with private_broker.running_broker(port=0) as running:
        yield running


@pytest.fixture(scope='session')
def publishing_cloud(restartable_broker, tmp_path_factory):
    """An embedded Nova (host1, host2) publishing to ``restartable_broker``.

    Versioned notifications, state changes included, to exchange
    ``nova``, topic ``versioned_notifications``; each is sent once and
    dropped if the broker is down, as Nova does.
    """
    with embedded_cloud.running_nova(
            tmp_path_factory.mktemp('publishing-nova'), PUBLISHING_HOSTS,
            tox_env='faults',
            notification_url=restartable_broker.url) as nova:
        yield nova


@pytest.fixture(scope='session')
def publishing_pool(publishing_cloud):
    """The :class:`harness.ServerPool` of ``publishing_cloud``."""
    return harness.ServerPool(publishing_cloud, PUBLISHING_HOSTS)


@pytest.fixture
def heard_server(publishing_pool):
    """An ACTIVE, idle :class:`harness.Server` of ``publishing_cloud``."""
    given = publishing_pool.take()
    yield given
    publishing_pool.give_back(given)
