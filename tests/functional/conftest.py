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

"""Session-wide real Nova (embedded, on 127.0.0.1) for functional tests.

See tests/embedded_cloud.py: ``WATCHER_MIGRATE_NOVA_PYTHON`` names the
python that runs Nova; without nova the tests fail, they do not skip.
"""

import pytest

from tests import embedded_cloud

HOSTS = embedded_cloud.HOSTS


@pytest.fixture(scope='session')
def cloud(tmp_path_factory):
    """The running :class:`EmbeddedNova` with hosts host1..host4."""
    with embedded_cloud.running_nova(
            tmp_path_factory.mktemp('embedded-nova'), HOSTS) as nova:
        yield nova


@pytest.fixture(scope='session')
def publishing_cloud(broker, tmp_path_factory):
    """An embedded Nova (host1, host2) publishing to the session's broker.

    Its versioned notifications, state changes included, go to exchange
    ``nova``, topic ``versioned_notifications``.
    """
    with embedded_cloud.running_nova(
            tmp_path_factory.mktemp('publishing-nova'), ('host1', 'host2'),
            notification_url=broker.url) as nova:
        yield nova
