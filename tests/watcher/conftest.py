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

"""The real Nova, a Watcher deployment, and the applier's threading modes.

``WATCHER_MIGRATE_NOVA_PYTHON`` names the python that runs Nova (see
tests/embedded_cloud.py). Nothing here skips: without nova or
python-watcher the tests fail or error out.
"""

import pytest

from embedded_watcher import deployment as watcher_deployment
from tests import embedded_cloud

HOSTS = embedded_cloud.HOSTS


@pytest.fixture(scope='session')
def cloud(tmp_path_factory):
    """The running :class:`EmbeddedNova` with hosts host1..host4."""
    with embedded_cloud.running_nova(
            tmp_path_factory.mktemp('embedded-nova'), HOSTS,
            tox_env='watcher') as nova:
        yield nova


@pytest.fixture(scope='session')
def watcher(cloud, tmp_path_factory):
    """The :class:`Deployment`: watcher.conf, database, applier runs."""
    site = watcher_deployment.Deployment(tmp_path_factory.mktemp('watcher'),
                                         cloud)
    embedded_cloud.show_on_failure('watcher.conf, applier logs: %s'
                                   % site.directory)
    return site.create()


@pytest.fixture(params=watcher_deployment.SUPPORTED_MODES)
def mode(request):
    """Watcher's threading mode for the applier run: each in turn.

    Only the modes the installed release has (eventlet alone before 16.0),
    so that an older release runs fewer cases, none of them skipped.
    """
    return request.param
