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

"""The Nova gateway over HTTP (requests-mock): microversion negotiation,
retries of reads, and the rules for writes whose outcome is unknown."""

import random
import threading
import time
import types

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
from novaclient import api_versions
import pytest
import requests
import requests_mock
import urllib3

from tests.unit import asks_of
from watcher_migrate import context
from watcher_migrate import exceptions
from watcher_migrate import nova_gateway
from watcher_migrate import options

ENDPOINT = 'http://nova.test/compute/v2.1'
SERVER = '0b8bd4ab-7c11-4b43-a3b1-64a6b8a7c5a3'
SERVER_URL = ENDPOINT + '/servers/' + SERVER
ACTION_URL = SERVER_URL + '/action'


def version_doc(max_version):
    return {'version': {'id': 'v2.1', 'status': 'CURRENT',
                        'version': max_version, 'min_version': '2.1',
                        'links': []}}


def server_doc(host='compute-1', status='ACTIVE', task_state=None):
    return {'server': {
        'id': SERVER, 'name': 'web-1', 'status': status,
        'OS-EXT-STS:task_state': task_state,
        'OS-EXT-SRV-ATTR:host': host,
        'flavor': {'ram': 2048, 'disk': 20, 'ephemeral': 0}}}


@pytest.fixture
def nova(monkeypatch):
    # As with python-novaclient 18.x, whatever release is installed.
    monkeypatch.setattr(nova_gateway, 'PREFERRED_MICROVERSION',
                        api_versions.APIVersion('2.96'))
    with requests_mock.Mocker() as mocker:
        mocker.get(ENDPOINT, json=version_doc('2.96'))
        yield mocker


@pytest.fixture
def process():
    """The process a test plays: no microversion settled, nothing shared."""
    return context.ProcessContext()


@pytest.fixture
def gateway(process):
    """Builds the gateways of the test's actions, all of one process."""
    def make(retry_timeout=2, **config):
        config['api_retry_timeout'] = retry_timeout
        settings = options.Settings(config)
        session = ks_session.Session(
            auth=token_endpoint.Token(ENDPOINT, 'a-token'))
        return nova_gateway.NovaGateway(session, settings, context=process)
    return make


def fault(code):
    return {'computeFault': {'code': code, 'message': 'Unexpected API Error'}}


def refused():
    return requests.exceptions.ConnectionError(
        urllib3.exceptions.NewConnectionError(
            None, 'Connection refused'))


def served_at(version):
    """The header with which Nova says which microversion it served."""
    return {'OpenStack-API-Version': 'compute ' + version}


def asked_version(request):
    return request.headers.get('OpenStack-API-Version')


def version_documents(mocker):
    return [r for r in mocker.request_history
            if r.url.rstrip('/') == ENDPOINT]


def test_the_first_read_settles_the_microversion_nova_serves(nova, gateway):
    nova.get(SERVER_URL, json=server_doc(), headers=served_at('2.96'))
    gw = gateway()
    assert gw.get_server(SERVER).host == 'compute-1'
    assert gw.api_version.get_string() == '2.96'
    assert [(r.method, r.url, asked_version(r))
            for r in nova.request_history] == [
        ('GET', SERVER_URL, 'compute 2.96')]


def test_later_reads_use_the_settled_microversion(nova, gateway):
    nova.get(SERVER_URL, json=server_doc(), headers=served_at('2.96'))
    gw = gateway()
    gw.get_server(SERVER)
    gw.get_server(SERVER)
    assert nova.call_count == 2
    assert asked_version(nova.last_request) == 'compute 2.96'


def test_a_nova_older_than_novaclient_is_negotiated_after_its_406(
        nova, gateway):
    nova.get(SERVER_URL, json=server_doc(), headers=served_at('2.90'))
    nova.get(SERVER_URL, status_code=406,
             additional_matcher=lambda r: asked_version(r) == 'compute 2.96',
             json={'computeFault': {
                 'code': 406, 'message': 'Version 2.96 is not supported by '
                 'the API. Minimum is 2.1 and maximum is 2.90.'}})
    nova.get(ENDPOINT, json=version_doc('2.90'))
    gw = gateway()
    assert gw.get_server(SERVER).host == 'compute-1'
    assert gw.api_version.get_string() == '2.90'
    assert [(r.url, asked_version(r)) for r in nova.request_history] == [
        (SERVER_URL, 'compute 2.96'), (ENDPOINT, None),
        (SERVER_URL, 'compute 2.90')]


def test_an_answer_that_does_not_name_its_version_is_read_again(nova, gateway):
    # A proxy that drops the header, or an endpoint that ignores
    # microversions: the body's version is unknown, so it is not used.
    nova.get(SERVER_URL, [{'json': server_doc(host='unsure')},
                          {'json': server_doc(host='compute-1')}])
    gw = gateway()
    assert gw.get_server(SERVER).host == 'compute-1'
    assert len(version_documents(nova)) == 1
    assert gw.api_version.get_string() == '2.96'


def test_a_missing_server_on_the_first_read_leaves_the_version_open(
        nova, gateway):
    nova.get(SERVER_URL, [
        {'status_code': 404, 'headers': served_at('2.96'),
         'json': {'itemNotFound': {'code': 404, 'message': 'gone'}}},
        {'json': server_doc(), 'headers': served_at('2.96')}])
    assert gateway().get_server(SERVER) is None
    assert gateway().get_server(SERVER).host == 'compute-1'
    assert version_documents(nova) == []


def test_the_version_is_negotiated_once_per_endpoint(nova, gateway):
    nova.get(SERVER_URL, json=server_doc())
    gateway().get_server(SERVER)
    gateway().get_server(SERVER)
    assert len(version_documents(nova)) == 1


def test_the_version_settled_by_a_read_serves_the_next_actions(nova, gateway):
    nova.get(SERVER_URL, json=server_doc(), headers=served_at('2.96'))
    gateway().get_server(SERVER)
    second = gateway()
    second.get_server(SERVER)
    assert second.api_version.get_string() == '2.96'
    assert version_documents(nova) == []
    assert nova.call_count == 2


def test_refuses_a_nova_older_than_2_56(nova, gateway):
    nova.get(SERVER_URL, status_code=406,
             json={'computeFault': {'code': 406, 'message': 'too new'}})
    nova.get(ENDPOINT, json=version_doc('2.53'))
    with pytest.raises(exceptions.NovaTooOld) as error:
        gateway().get_server(SERVER)
    assert '2.53' in str(error.value) and '2.56' in str(error.value)


def test_reads_the_server_fields_the_action_needs(nova, gateway):
    nova.get(SERVER_URL, json=server_doc(task_state='migrating'))
    server = gateway().get_server(SERVER)
    assert (server.host, server.status, server.task_state) == (
        'compute-1', 'ACTIVE', 'migrating')
    assert server.size_gib == pytest.approx(22.0)


def test_a_missing_server_reads_as_none(nova, gateway):
    nova.get(SERVER_URL, status_code=404,
             json={'itemNotFound': {'code': 404, 'message': 'gone'}})
    assert gateway().get_server(SERVER) is None


def test_reads_are_retried_after_transient_errors(nova, gateway):
    nova.get(SERVER_URL, [
        {'status_code': 503, 'json': fault(503)},
        {'exc': refused()},
        {'status_code': 500, 'json': fault(500)},
        {'json': server_doc(), 'headers': served_at('2.96')},
    ])
    assert gateway().get_server(SERVER).host == 'compute-1'
    assert nova.call_count == 4


def test_a_non_json_body_is_retried_like_a_transient_error(nova, gateway):
    nova.get(SERVER_URL, [{'text': '{"server": {"id"', 'status_code': 200},
                          {'json': server_doc()}])
    assert gateway().get_server(SERVER).host == 'compute-1'


def test_reads_give_up_with_a_clear_error_after_the_retry_budget(
        nova, gateway):
    nova.get(SERVER_URL, status_code=503, json=fault(503))
    with pytest.raises(exceptions.NovaUnavailable) as error:
        gateway(retry_timeout=0).get_server(SERVER)
    assert 'kept failing for 0 s (1 try in 0 s)' in str(error.value)


def _tried(attempt_number, seconds_since_start):
    return types.SimpleNamespace(attempt_number=attempt_number,
                                 seconds_since_start=seconds_since_start)


def test_no_retry_sleep_reaches_past_the_retry_budget(monkeypatch):
    # The longest sleep the jitter can draw.
    monkeypatch.setattr(random, 'uniform', lambda low, high: high)
    wait = nova_gateway.WaitWithinBudget(2.0)
    assert wait(_tried(6, 1.5)) == pytest.approx(0.5)
    assert wait(_tried(9, 2.5)) == 0.0


def test_retry_sleeps_back_off_exponentially_within_the_budget(
        monkeypatch):
    monkeypatch.setattr(random, 'uniform', lambda low, high: high)
    wait = nova_gateway.WaitWithinBudget(60.0)
    assert [wait(_tried(n, 0.0)) for n in (1, 2, 3, 6)] == \
        pytest.approx([0.2, 0.4, 0.8, 5.0])


def test_retries_stop_once_the_budget_is_spent():
    stop = nova_gateway.StopAfterBudget(60)
    assert not stop(_tried(3, 59.0))
    assert stop(_tried(3, 60.5))


def test_a_first_try_that_outlasted_the_budget_is_tried_once_more():
    stop = nova_gateway.StopAfterBudget(60)
    assert not stop(_tried(1, 61.0))
    assert stop(_tried(2, 61.0))


def test_a_budget_of_zero_means_no_retry():
    assert nova_gateway.StopAfterBudget(0)(_tried(1, 0.0))


def test_a_read_that_timed_out_past_the_budget_is_read_again(nova, gateway):
    def hung(request, context):
        time.sleep(1.1)
        raise requests.exceptions.ReadTimeout('read timed out')

    nova.get(SERVER_URL, [{'text': hung}, {'json': server_doc()}])
    assert gateway(retry_timeout=1).get_server(SERVER).host == 'compute-1'


def test_a_read_given_up_says_how_long_its_tries_really_took(nova, gateway):
    def hung(request, context):
        time.sleep(1.1)
        raise requests.exceptions.ReadTimeout('read timed out')

    nova.get(SERVER_URL, text=hung)
    with pytest.raises(exceptions.NovaUnavailable,
                       match=r'kept failing for 1 s \(2 tries in 2 s\)'):
        gateway(retry_timeout=1).get_server(SERVER)


def test_a_write_refused_by_a_closed_port_is_sent_again(nova, gateway):
    nova.post(ACTION_URL, [{'exc': refused()}, {'status_code': 202}])
    gateway().live_migrate(SERVER, 'compute-2')
    posts = [r for r in nova.request_history if r.method == 'POST']
    assert len(posts) == 2


def test_a_write_never_sent_within_the_budget_says_how_often_it_tried(
        nova, gateway):
    nova.post(ACTION_URL, exc=refused())
    with pytest.raises(exceptions.NovaUnavailable,
                       match=r'unreachable for 0 s \(1 try in 0 s\)'):
        gateway(retry_timeout=0).live_migrate(SERVER, 'compute-2')


def test_a_write_answered_500_is_not_sent_again(nova, gateway):
    nova.post(ACTION_URL, status_code=500, json=fault(500))
    with pytest.raises(nova_gateway.WriteOutcomeUnknown):
        gateway().live_migrate(SERVER, 'compute-2')
    assert len([r for r in nova.request_history if r.method == 'POST']) == 1


def test_a_write_whose_connection_broke_is_not_sent_again(nova, gateway):
    nova.post(ACTION_URL, exc=requests.exceptions.ConnectionError(
        'Connection reset by peer'))
    with pytest.raises(nova_gateway.WriteOutcomeUnknown):
        gateway().live_migrate(SERVER, 'compute-2')
    assert len([r for r in nova.request_history if r.method == 'POST']) == 1


def test_a_write_that_timed_out_reading_the_answer_is_not_sent_again(
        nova, gateway):
    nova.post(ACTION_URL, exc=requests.exceptions.ReadTimeout('slow'))
    with pytest.raises(nova_gateway.WriteOutcomeUnknown):
        gateway().live_migrate(SERVER, 'compute-2')
    assert len([r for r in nova.request_history if r.method == 'POST']) == 1


def test_a_409_on_a_write_is_reported_as_a_conflict(nova, gateway):
    nova.post(ACTION_URL, status_code=409, json={
        'conflictingRequest': {'code': 409, 'message': 'task_state busy'}})
    with pytest.raises(nova_gateway.NovaConflict) as error:
        gateway().live_migrate(SERVER, 'compute-2')
    assert 'task_state busy' in str(error.value)


def test_a_400_on_a_write_carries_novas_message(nova, gateway):
    nova.post(ACTION_URL, status_code=400, json={
        'badRequest': {'code': 400, 'message': 'Compute host x not found'}})
    with pytest.raises(nova_gateway.NovaRefused) as error:
        gateway().live_migrate(SERVER, 'x')
    assert 'Compute host x not found' in str(error.value)
    assert 'HTTP 400' in str(error.value)


def test_live_migrate_lets_nova_choose_block_migration(nova, gateway):
    nova.post(ACTION_URL, status_code=202)
    gateway().live_migrate(SERVER, 'compute-2')
    assert nova.last_request.json() == {'os-migrateLive': {
        'host': 'compute-2', 'block_migration': 'auto'}}


@pytest.mark.parametrize('write', ['live_migrate', 'cold_migrate'])
def test_a_move_answers_the_id_nova_gave_its_request(nova, gateway, write):
    nova.post(ACTION_URL, status_code=202,
              headers={'x-openstack-request-id': 'req-42'})
    assert getattr(gateway(), write)(SERVER, 'compute-2') == 'req-42'


def test_a_confirm_answers_the_id_nova_gave_its_request(nova, gateway):
    nova.post(ACTION_URL, status_code=204,
              headers={'x-openstack-request-id': 'req-43'})
    assert gateway().confirm_resize(SERVER) == 'req-43'


def test_cold_migrate_names_the_destination_host(nova, gateway):
    nova.post(ACTION_URL, status_code=202)
    gateway().cold_migrate(SERVER, 'compute-2')
    assert nova.last_request.json() == {'migrate': {'host': 'compute-2'}}


def test_migrations_are_listed_newest_first_for_the_server(nova, gateway):
    nova.get(ENDPOINT + '/os-migrations', json={'migrations': [
        {'id': 3, 'status': 'completed', 'migration_type': 'live-migration'},
        {'id': 7, 'status': 'running', 'migration_type': 'live-migration'},
    ]})
    migrations = gateway().list_migrations(SERVER)
    assert [m.id for m in migrations] == [7, 3]
    assert nova.last_request.qs['instance_uuid'] == [SERVER]


def test_the_compute_service_states_are_read(nova, gateway):
    nova.get(ENDPOINT + '/os-services', json={'services': [
        {'id': 'x', 'binary': 'nova-compute', 'host': 'compute-2',
         'status': 'disabled', 'state': 'up', 'forced_down': False,
         'disabled_reason': 'maintenance', 'zone': 'nova'}]})
    service = gateway().get_compute_service('compute-2')
    assert (service.status, service.state, service.forced_down,
            service.disabled_reason) == ('disabled', 'up', False,
                                         'maintenance')


def test_actions_checking_services_at_once_share_one_listing(
        nova, gateway, process):
    entered, release = threading.Event(), threading.Event()

    def held_listing(request, context):
        entered.set()
        release.wait(5)
        return {'services': [
            {'id': 'x', 'binary': 'nova-compute', 'host': 'compute-%d' % i,
             'status': 'enabled', 'state': 'up', 'forced_down': False,
             'zone': 'nova'} for i in (1, 2)]}

    services = nova.get(ENDPOINT + '/os-services', json=held_listing)
    gateways = [gateway() for _ in range(4)]
    for gw in gateways:
        gw.client           # the microversion, negotiated once for all
    asks = asks_of.AskCounter(process.service_read(ENDPOINT))
    found = []

    def check(gw, host):
        found.append(gw.get_compute_service(host).host)

    first = threading.Thread(target=check, args=(gateways[0], 'compute-1'))
    first.start()
    assert entered.wait(5)
    others = [threading.Thread(target=check, args=(gw, host))
              for gw, host in zip(gateways[1:], ('compute-1', 'compute-2',
                                                 'compute-2'))]
    for thread in others:
        thread.start()
    # The first asked and began its request; the others have asked.
    assert asks.reach(2 + len(others))
    release.set()
    for thread in [first] + others:
        thread.join(10)
    assert sorted(found) == ['compute-1', 'compute-1', 'compute-2',
                             'compute-2']
    # The one in flight, then one for the three that asked meanwhile.
    assert services.call_count == 2


def test_a_service_is_read_afresh_by_each_action_after_the_last(nova, gateway):
    services = nova.get(ENDPOINT + '/os-services', [
        {'json': {'services': [
            {'id': 'x', 'binary': 'nova-compute', 'host': 'compute-1',
             'status': status, 'state': 'up', 'forced_down': False,
             'zone': 'nova'}]}} for status in ('enabled', 'disabled')])
    assert gateway().get_compute_service('compute-1').status == 'enabled'
    assert gateway().get_compute_service('compute-1').status == 'disabled'
    assert services.call_count == 2


def test_changed_live_migrations_of_all_servers_are_listed(nova, gateway):
    nova.get(ENDPOINT + '/os-migrations', [
        {'json': {'migrations': [
            {'id': 9, 'status': 'running', 'instance_uuid': SERVER,
             'migration_type': 'live-migration'}],
            'migrations_links': [
            {'rel': 'next', 'href': ENDPOINT + '/os-migrations?'
             'migration_type=live-migration&marker=m-9'}]}},
        {'json': {'migrations': [
            {'id': 4, 'status': 'queued', 'instance_uuid': 'other',
             'migration_type': 'live-migration'}]}}])
    records = gateway().list_changed_live_migrations('2027-01-15T08:00:00Z')
    assert [(r.id, r.instance_uuid, r.status) for r in records] == [
        (9, SERVER, 'running'), (4, 'other', 'queued')]
    asked = nova.request_history[-2]
    assert asked.qs['migration_type'] == ['live-migration']
    assert asked.qs['changes-since'] == ['2027-01-15t08:00:00z']
    assert nova.last_request.qs['marker'] == ['m-9']


def test_endpoint_override_replaces_the_catalog_endpoint(nova, gateway):
    other = 'http://nova.internal.test/compute/v2.1'
    nova.get(other, json=version_doc('2.96'))
    nova.get(other + '/servers/' + SERVER, json=server_doc(host='c-9'))
    server = gateway(endpoint_override=other).get_server(SERVER)
    assert server.host == 'c-9'
    assert nova.last_request.url.startswith(other)


def test_a_tls_or_catalog_failure_is_a_named_error(nova, gateway):
    gw = gateway()

    def no_endpoint(**kwargs):
        raise ks_exceptions.DiscoveryFailure(
            'SSL: CERTIFICATE_VERIFY_FAILED')

    gw._session.get_endpoint = no_endpoint
    with pytest.raises(exceptions.NovaUnavailable,
                       match='find the compute endpoint: DiscoveryFailure: '
                             'SSL: CERTIFICATE_VERIFY_FAILED'):
        gw.get_server(SERVER)


def test_a_401_on_a_read_is_retried_and_then_named(nova, gateway):
    nova.get(SERVER_URL, [
        {'status_code': 401, 'json': {'error': {'code': 401}}},
        {'json': server_doc(host='compute-3')}])
    assert gateway().get_server(SERVER).host == 'compute-3'


def test_changed_servers_of_all_projects_are_listed_page_by_page(
        nova, gateway):
    first = dict(server_doc()['server'], id='a')
    second = dict(server_doc(status='DELETED')['server'], id='b')
    nova.get(ENDPOINT + '/servers/detail', [
        {'json': {'servers': [first], 'servers_links': [
            {'rel': 'next', 'href': ENDPOINT + '/servers/detail?'
             'all_tenants=1&changes-since=2027-01-15T08%3A00%3A00Z'
             '&marker=a'}]}},
        {'json': {'servers': [second]}}])
    views = gateway().list_changed_servers('2027-01-15T08:00:00Z')
    assert [v.id for v in views] == ['a', 'b']
    assert views[1].deleted
    asked = nova.request_history[-2]
    assert asked.qs['all_tenants'] == ['1']
    assert asked.qs['changes-since'] == ['2027-01-15t08:00:00z']
    assert nova.last_request.qs['marker'] == ['a']
