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

"""The embedded cloud's Placement, found through its Keystone catalog.

Watcher's decision engine reads each compute node's inventory from
Placement over HTTP; these tests read it as any catalog client would.
"""

PLACEMENT = {'service_type': 'placement', 'interface': 'public',
             'region_name': 'RegionOne'}
VERSION = {'OpenStack-API-Version': 'placement 1.29'}


def _get(cloud, path, **kwargs):
    return cloud.keystone_session().get(path, endpoint_filter=PLACEMENT,
                                        headers=VERSION, raise_exc=False,
                                        **kwargs)


def test_the_catalog_names_placement_on_the_same_loopback_port(cloud):
    session = cloud.keystone_session()

    endpoint = session.get_endpoint(**PLACEMENT)

    assert endpoint == cloud.info()['placement_url']
    assert endpoint.startswith(cloud.auth_url.split('/identity')[0])


def test_placement_lists_a_resource_provider_per_compute_host(cloud):
    response = _get(cloud, '/resource_providers')

    assert response.status_code == 200, response.text
    names = sorted(rp['name'] for rp in response.json()['resource_providers'])
    assert names == sorted(cloud.hosts)


def test_a_hypervisor_uuid_is_its_resource_provider_with_inventory(cloud):
    hypervisor = cloud.nova_client().hypervisors.search('host1')[0]

    provider = _get(cloud, '/resource_providers/%s' % hypervisor.id)
    inventories = _get(cloud, '/resource_providers/%s/inventories'
                       % hypervisor.id)

    assert provider.status_code == 200, provider.text
    assert provider.json()['name'] == 'host1'
    assert inventories.status_code == 200, inventories.text
    assert sorted(inventories.json()['inventories']) == [
        'DISK_GB', 'MEMORY_MB', 'VCPU']


def test_placement_refuses_a_request_without_a_valid_token(cloud):
    url = cloud.info()['placement_url'] + '/resource_providers'
    session = cloud.keystone_session()

    missing = session.get(url, authenticated=False, raise_exc=False)
    forged = session.get(url, authenticated=False, raise_exc=False,
                         headers={'X-Auth-Token': 'admin'})

    assert (missing.status_code, forged.status_code) == (401, 401)


def test_placement_requests_are_recorded_apart_from_compute_ones(cloud):
    since = len(cloud.requests())

    _get(cloud, '/resource_providers')

    recorded = [(r['method'], r['path'], r['status'])
                for r in cloud.requests(since)]
    assert recorded == [('GET', '/placement/resource_providers', 200)]
