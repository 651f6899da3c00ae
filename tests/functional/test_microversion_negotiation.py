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

"""How an applier process settles the compute microversion, as the real
Nova answers: on its first read of a server, with no version request when
Nova serves novaclient's highest microversion."""

import novaclient
from novaclient import api_versions

from tests.functional import test_migrate_action as moves
from watcher_migrate import nova_gateway


def compute_requests(cloud):
    return [(r['method'], r['path'].split('/compute', 1)[1],
             r['microversion'], r['status']) for r in cloud.requests()]


def test_the_first_read_of_a_process_settles_the_microversion(
        cloud, process_context):
    # A process of its own: no microversion settled yet, as in a freshly
    # started applier.
    server = cloud.create_server('host1')
    migrate = moves.migrate_action(cloud, server, 'host1', 'host2',
                                   context=process_context)
    cloud.reset_requests()
    migrate.pre_condition()
    preferred = nova_gateway.PREFERRED_MICROVERSION.get_string()
    assert compute_requests(cloud)[0] == (
        'GET', '/v2.1/servers/%s' % server, 'compute ' + preferred, 200)
    assert not [r for r in compute_requests(cloud)
                if r[1].rstrip('/') in ('', '/v2.1')]
    assert migrate.gateway.api_version.get_string() == preferred


def test_a_version_nova_does_not_serve_is_negotiated_then_read_again(
        cloud, monkeypatch, process_context):
    # A novaclient newer than the real Nova, which answers it with 406
    # as any Nova older than novaclient would.
    newer = api_versions.APIVersion('2.999')
    monkeypatch.setattr(novaclient, 'API_MAX_VERSION', newer)
    monkeypatch.setattr(nova_gateway, 'PREFERRED_MICROVERSION', newer)
    server = cloud.create_server('host1')
    migrate = moves.migrate_action(cloud, server, 'host1', 'host2',
                                   context=process_context)
    cloud.reset_requests()
    migrate.pre_condition()
    negotiated = migrate.gateway.api_version.get_string()
    assert compute_requests(cloud)[:3] == [
        ('GET', '/v2.1/servers/%s' % server, 'compute 2.999', 406),
        ('GET', '/v2.1', '2.1', 200),     # the version document
        ('GET', '/v2.1/servers/%s' % server, 'compute ' + negotiated, 200)]
    # The highest the real Nova serves (2.104 for nova 34.0.0).
    assert nova_gateway.MIN_MICROVERSION < \
        api_versions.APIVersion(negotiated) < newer
