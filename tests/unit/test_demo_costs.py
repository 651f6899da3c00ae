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

"""The demo's account of what each migration cost Nova."""

from embedded_nova import demo

WEB = 'aaaaaaaa-0000-0000-0000-000000000001'
BATCH = 'bbbbbbbb-0000-0000-0000-000000000002'


def request(method, path, start, end=None, action=None):
    return {'method': method, 'path': '/compute/v2.1' + path,
            'start': start, 'end': start + 0.1 if end is None else end,
            'action': action}


REQUESTS = [
    request('GET', '/servers/%s' % WEB, 10.0),
    request('POST', '/servers/%s/action' % WEB, 10.5,
            action='os-migrateLive'),
    request('GET', '/servers/%s/migrations' % WEB, 11.5),
    request('GET', '/servers/detail', 20.2, end=20.4),
    request('GET', '/servers/detail', 21.0),
    request('GET', '/os-services', 10.2),
    request('POST', '/servers/%s/action' % BATCH, 10.6, action='migrate'),
    request('POST', '/servers/%s/action' % BATCH, 30.7,
            action='confirmResize'),
]
EVENTS = [
    {'event': 'live_migration_started', 'instance': WEB, 'time': 11.0},
    {'event': 'live_migration_landed', 'instance': WEB, 'time': 20.0},
    {'event': 'cold_migration_finished', 'instance': BATCH, 'time': 30.0,
     'outcome': 'finished'},
]


def rows():
    return demo.costs(REQUESTS, EVENTS, {'web-1': WEB, 'batch-1': BATCH})


def test_each_server_is_charged_its_own_requests():
    own = [(r['name'], r['reads'], r['writes']) for r in rows()[0]]
    assert own == [('web-1', 2, 1), ('batch-1', 0, 2)]


def test_requests_of_no_one_server_are_counted_as_shared():
    assert dict(rows()[1]) == {'GET /servers/detail': 2,
                               'GET /os-services': 1}


def test_a_live_landing_is_seen_by_the_answer_of_the_next_read():
    assert rows()[0][0]['detected'] == [('live', 20.4 - 20.0)]


def test_a_cold_move_is_answered_by_its_confirm():
    assert rows()[0][1]['detected'] == [('cold', 30.7 - 30.0)]


def test_a_landing_no_request_read_afterwards_reads_not_seen():
    early = [r for r in REQUESTS if r['start'] < 20.0]
    row = demo.costs(early, EVENTS, {'web-1': WEB})[0][0]
    assert 'not seen' in demo.costs_report([row], {})[2]


def test_the_report_gives_requests_per_migration_and_the_benchmark():
    lines = demo.costs_report(*rows())
    assert '  in all 8 requests for 2 migrations: 4.0 per migration' in \
        lines
    assert 'tools/tox -e bench' in lines[-1]
