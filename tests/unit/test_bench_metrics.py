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

"""The benchmark's metrics (bench/metrics.py) on the records' real shapes.

Events are the embedded Nova's fake-driver events, requests its compute
API log entries, action rows what bench/runner.py reads from Watcher
(``updated_at`` naive UTC, as Watcher stores it).
"""

import datetime

import pytest

from bench import metrics
from bench import report
from bench import workloads
from embedded_nova import driver_behaviour

T0 = 1764100000.0
LIVE = metrics.DRIVER_EVENTS['live']
COLD = metrics.ANCHORS['cold']
SERVER = '5b0e2a4e-9a52-4c61-9d4f-0a1f4c3a7b01'
OTHER = 'c1d5a3f0-2a77-4a0e-8a53-2b6f0b9e4c02'


def live_finished(server, at, source='host1', dest='host2',
                  outcome='completed'):
    return {'event': 'live_migration_finished', 'instance': server,
            'time': at, 'source': source, 'dest': dest, 'outcome': outcome,
            'forced': False}


def live_landing(server, at, dest='host2'):
    return {'event': 'live_migration_landed', 'instance': server,
            'time': at, 'dest': dest, 'outcome': 'completed'}


def live_started(server, at, source='host1', dest='host2'):
    return {'event': 'live_migration_started', 'instance': server,
            'time': at, 'source': source, 'dest': dest,
            'migration': '0d7c2d7e-0000-4000-8000-000000000001'}


def cold_finished(server, at, source='host1', dest='host2'):
    return {'event': 'cold_migration_finished', 'instance': server,
            'time': at, 'source': source, 'dest': dest,
            'outcome': 'finished'}


def iso(epoch):
    """An epoch as Nova's API writes timestamps: naive UTC, microseconds."""
    return datetime.datetime.fromtimestamp(
        epoch, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%f')


def migration_record(server, updated_at, status='completed',
                     kind='live-migration', source='host1', dest='host2'):
    # GET /os-migrations at microversion 2.80, as the embedded Nova says.
    return {'id': 100, 'uuid': '1a70c8e0-9bf5-491f-8bcb-fe547626d108',
            'source_compute': source, 'dest_compute': dest,
            'source_node': source, 'dest_node': dest, 'dest_host': None,
            'old_instance_type_id': 1, 'new_instance_type_id': 1,
            'instance_uuid': server, 'status': status,
            'migration_type': kind, 'user_id': 'admin',
            'project_id': '6f70656e737461636b20342065766572',
            'created_at': '2026-11-25T20:09:56.913290',
            'updated_at': updated_at}


def action(uuid, server, destination, returned, state='SUCCEEDED'):
    return {'uuid': uuid, 'server': server, 'source': 'host1',
            'destination': destination, 'state': state,
            'status_message': None, 'returned': returned}


def request(method, at, path='/compute/v2.1/servers/%s' % SERVER):
    return {'method': method, 'path': path, 'query': '',
            'microversion': 'compute 2.96', 'action': None, 'status': 200,
            'start': at, 'end': at + 0.03, 'index': 0}


# -- timestamps -------------------------------------------------------------

def test_naive_updated_at_is_utc():
    moment = datetime.datetime(2026, 11, 25, 19, 45, 50, 123456)
    expected = datetime.datetime(2026, 11, 25, 19, 45, 50, 123456,
                                 tzinfo=datetime.timezone.utc).timestamp()
    assert metrics.epoch_seconds(moment) == pytest.approx(expected)


def test_aware_and_string_timestamps_agree():
    aware = datetime.datetime(2026, 11, 25, 19, 45, 50, 500000,
                              tzinfo=datetime.timezone.utc)
    assert metrics.epoch_seconds('2026-11-25 19:45:50.500000') == \
        pytest.approx(aware.timestamp())
    assert metrics.epoch_seconds('2026-11-25T19:45:50.500000Z') == \
        pytest.approx(aware.timestamp())
    assert metrics.epoch_seconds(aware) == aware.timestamp()
    assert metrics.epoch_seconds(None) is None


# -- percentiles ------------------------------------------------------------

def test_nearest_rank_percentile():
    values = [float(v) for v in range(1, 21)]       # 1 .. 20
    assert metrics.percentile(values, 95) == 19.0
    assert metrics.percentile(values, 50) == 10.0
    assert metrics.percentile(values, 100) == 20.0
    assert metrics.percentile([3.0, 1.0, 2.0], 95) == 3.0
    assert metrics.percentile([0.4], 95) == 0.4
    assert metrics.percentile([], 95) is None


def test_percentile_rejects_out_of_range():
    with pytest.raises(ValueError):
        metrics.percentile([1.0], 0)
    with pytest.raises(ValueError):
        metrics.percentile([1.0], 101)


def test_latency_summary_skips_missing_values():
    summary = metrics.latency_summary([0.2, None, 0.1, 0.4, 2.0])
    assert summary == {'count': 4, 'median': pytest.approx(0.3),
                       'p95': 2.0, 'max': 2.0}
    assert metrics.latency_summary([None]) == {
        'count': 0, 'median': None, 'p95': None, 'max': None}


# -- matching actions to the end of their migration in Nova ------------------

def test_live_latency_from_the_driver_finish_event():
    events = [live_started(SERVER, T0), live_finished(SERVER, T0 + 20.0)]
    matched = metrics.detection_latencies(
        [action('a1', SERVER, 'host2', T0 + 20.25)], events, LIVE)
    assert matched[0]['finished'] == T0 + 20.0
    assert matched[0]['latency'] == pytest.approx(0.25)


def test_chain_of_one_server_matches_each_move():
    # host1 -> host2 -> host3 -> host1: one server, three moves.
    events = [live_finished(SERVER, T0 + 3, 'host1', 'host2'),
              live_finished(SERVER, T0 + 10, 'host2', 'host3'),
              live_finished(SERVER, T0 + 17, 'host3', 'host1')]
    actions = [action('a1', SERVER, 'host2', T0 + 5.0),
               action('a2', SERVER, 'host3', T0 + 10.5),
               action('a3', SERVER, 'host1', T0 + 21.0)]
    latencies = [m['latency']
                 for m in metrics.detection_latencies(actions, events, LIVE)]
    assert latencies == [pytest.approx(2.0), pytest.approx(0.5),
                         pytest.approx(4.0)]


def test_repeated_destination_matches_the_nearest_event_once():
    # Two hosts only: the server goes back and forth, same destinations.
    events = [live_finished(SERVER, T0 + 3, 'host1', 'host2'),
              live_finished(SERVER, T0 + 8, 'host2', 'host1'),
              live_finished(SERVER, T0 + 13, 'host1', 'host2')]
    actions = [action('a1', SERVER, 'host2', T0 + 4.0),
               action('a2', SERVER, 'host1', T0 + 9.0),
               action('a3', SERVER, 'host2', T0 + 13.1)]
    matched = metrics.detection_latencies(actions, events, LIVE)
    assert [m['finished'] for m in matched] == [T0 + 3, T0 + 8, T0 + 13]


def test_action_noticing_before_the_event_gets_a_negative_latency():
    events = [live_finished(SERVER, T0 + 20.05)]
    matched = metrics.detection_latencies(
        [action('a1', SERVER, 'host2', T0 + 20.0)], events, LIVE)
    assert matched[0]['latency'] == pytest.approx(-0.05)


def test_concurrent_servers_are_not_mixed_up():
    events = [live_finished(OTHER, T0 + 19.0, 'host3', 'host4'),
              live_finished(SERVER, T0 + 20.0, 'host1', 'host2')]
    actions = [action('a1', SERVER, 'host2', T0 + 20.5),
               action('a2', OTHER, 'host4', T0 + 24.0)]
    latencies = [m['latency']
                 for m in metrics.detection_latencies(actions, events, LIVE)]
    assert latencies == [pytest.approx(0.5), pytest.approx(5.0)]


def test_failed_action_has_no_latency_and_unsuccessful_events_do_not_count():
    events = [live_finished(SERVER, T0 + 20.0, outcome='failed'),
              live_finished(OTHER, T0 + 20.0)]
    actions = [action('a1', SERVER, 'host2', T0 + 21.0),
               action('a2', OTHER, 'host2', T0 + 30.0, state='FAILED')]
    matched = metrics.detection_latencies(actions, events, LIVE)
    assert matched[0]['finished'] is None
    assert matched[0]['latency'] is None
    assert matched[1]['finished'] == T0 + 20.0
    assert matched[1]['latency'] is None


def test_event_long_after_the_action_returned_is_not_its_migration():
    events = [live_finished(SERVER, T0 + 200.0)]
    matched = metrics.detection_latencies(
        [action('a1', SERVER, 'host2', T0 + 20.0)], events, LIVE)
    assert matched[0]['latency'] is None


def test_cold_latency_uses_the_cold_finish_event_not_live_ones():
    events = [live_finished(SERVER, T0 + 1.0),
              cold_finished(SERVER, T0 + 4.0),
              {'event': 'confirm_done', 'instance': SERVER,
               'time': T0 + 4.8, 'host': 'host1', 'outcome': 'confirmed'}]
    matched = metrics.detection_latencies(
        [action('a1', SERVER, 'host2', T0 + 5.5)], events, COLD)
    assert matched[0]['finished'] == T0 + 4.0
    assert matched[0]['latency'] == pytest.approx(1.5)


def test_failed_cold_migration_event_is_not_a_finish():
    events = [{'event': 'cold_migration_finished', 'instance': SERVER,
               'time': T0 + 4.0, 'source': 'host1',
               'dest_ip': '192.168.1.2', 'outcome': 'error'}]
    matched = metrics.detection_latencies(
        [action('a1', SERVER, 'host2', T0 + 5.0)], events, COLD)
    assert matched[0]['latency'] is None


def test_completed_live_migration_records_become_record_events():
    records = [migration_record(SERVER, '2026-11-25T20:11:40.695147'),
               migration_record(SERVER, '2026-11-25T20:12:00.000000',
                                status='running'),
               migration_record(OTHER, '2026-11-25T20:11:41.000000',
                                status='confirmed', kind='migration')]
    events = metrics.record_events(records)
    assert len(events) == 1
    assert events[0]['event'] == metrics.RECORD_EVENT
    assert events[0]['instance'] == SERVER
    assert events[0]['dest'] == 'host2'
    assert events[0]['time'] == pytest.approx(datetime.datetime(
        2026, 11, 25, 20, 11, 40, 695147,
        tzinfo=datetime.timezone.utc).timestamp())


def test_summarize_measures_live_latency_from_the_server_landing():
    landed = T0 + 20.0
    # Nova's record says completed, and the driver's call returns, after
    # its last post-migration steps.
    records = [migration_record(SERVER, iso(landed + 1.5))]
    events = [live_landing(SERVER, landed),
              live_finished(SERVER, landed + 1.0)]
    actions = [action('a1', SERVER, 'host2', landed + 0.2)]
    row = metrics.summarize(actions, events, [], 'live',
                            (landed - 30, landed + 1), 31.0, 1.0, records)
    assert row['latency']['median'] == pytest.approx(0.2)
    assert row['latency_driver_event']['median'] == pytest.approx(-0.8)
    assert row['latency_record']['median'] == pytest.approx(-1.3)


def test_summarize_without_a_landing_has_no_live_latency():
    events = [live_finished(SERVER, T0 + 20.0)]
    row = metrics.summarize([action('a1', SERVER, 'host2', T0 + 20.5)],
                            events, [], 'live', (T0, T0 + 21), 21.0, 1.0)
    assert row['latency']['count'] == 0
    assert row['unmatched'] == 1
    assert row['latency_driver_event']['median'] == pytest.approx(0.5)


# -- requests ---------------------------------------------------------------

def test_requests_split_reads_and_writes_within_the_window():
    requests = [request('GET', T0 - 1.0),                   # before
                request('GET', T0 + 0.1),
                request('POST', T0 + 0.2,
                        '/compute/v2.1/servers/%s/action' % SERVER),
                request('HEAD', T0 + 1.0, '/compute/v2.1/'),
                request('GET', T0 + 5.0),
                request('DELETE', T0 + 6.0),
                request('GET', T0 + 30.0)]                  # after
    assert metrics.count_requests(requests, T0, T0 + 10.0) == {
        'reads': 3, 'writes': 2, 'total': 5, 'outside': 2}


def test_requests_are_counted_by_method_path_and_action():
    server_path = '/compute/v2.1/servers/%s' % SERVER
    requests = [request('GET', T0 + 1.0),
                request('GET', T0 + 2.0, '/compute/v2.1/servers/' + OTHER),
                dict(request('GET', T0 + 3.0, '/compute/v2.1/servers/detail'),
                     query='all_tenants=1&changes-since=2024-01-01'),
                dict(request('POST', T0 + 4.0, server_path + '/action'),
                     action='os-migrateLive'),
                request('GET', T0 + 4.5,
                        server_path + '/migrations/17'),
                request('GET', T0 + 30.0)]                  # after
    assert metrics.request_kinds(requests, T0, T0 + 10.0) == {
        'GET /compute/v2.1/servers/{id}': 2,
        'GET /compute/v2.1/servers/detail?all_tenants&changes-since': 1,
        'POST /compute/v2.1/servers/{id}/action os-migrateLive': 1,
        'GET /compute/v2.1/servers/{id}/migrations/{id}': 1}


def test_per_guards_division():
    assert metrics.per(10, 4) == 2.5
    assert metrics.per(10, 0) is None
    assert metrics.per(None, 3) is None


def test_summarize_reports_failures_latencies_and_rates():
    landings = [live_landing(SERVER, T0 + 20.0),
                live_landing(OTHER, T0 + 21.0, dest='host4')]
    actions = [action('a1', SERVER, 'host2', T0 + 20.2),
               action('a2', OTHER, 'host4', T0 + 22.0),
               action('a3', OTHER, 'host5', T0 + 22.5, state='FAILED')]
    requests = ([request('GET', T0 + i) for i in range(1, 10)] +
                [request('POST', T0 + 0.5)] * 3)
    row = metrics.summarize(actions, landings, requests, 'live',
                            (T0, T0 + 24.0), 24.0, 1.5)
    assert row['migrations'] == 3
    assert row['succeeded'] == 2
    assert row['failed'] == 1
    assert row['unmatched'] == 0
    assert row['latency']['count'] == 2
    assert row['latency']['median'] == pytest.approx(0.6)
    assert row['latency']['p95'] == pytest.approx(1.0)
    assert row['latencies'][2] is None
    assert row['reads_per_migration'] == pytest.approx(3.0)
    assert row['writes_per_migration'] == pytest.approx(1.0)
    assert row['requests_per_second'] == pytest.approx(0.5)
    assert row['wall_seconds'] == 24.0
    assert row['applier_cpu_seconds'] == 1.5


def test_summarize_counts_succeeded_actions_without_an_event():
    actions = [action('a1', SERVER, 'host2', T0 + 5.0)]
    row = metrics.summarize(actions, [], [], 'live', (T0, T0 + 6), None,
                            None)
    assert row['unmatched'] == 1
    assert row['latency']['count'] == 0
    assert row['requests_per_second'] is None


# -- workloads --------------------------------------------------------------

def test_chain_moves_start_where_the_server_is():
    hosts = ['host1', 'host2', 'host3']
    chain = workloads.Workload('live-3s', 'live', 3, chain=4)
    moves = workloads.moves(chain, [SERVER, OTHER], {SERVER: 'host2'},
                            hosts)
    assert moves == [(SERVER, [('host2', 'host3'), ('host3', 'host1'),
                               ('host1', 'host2'), ('host2', 'host3')])]


def test_concurrent_moves_go_to_the_next_host_each():
    hosts = ['host1', 'host2', 'host3']
    wide = workloads.Workload('concurrent-2', 'live', 20, width=2)
    moves = workloads.moves(wide, [SERVER, OTHER],
                            {SERVER: 'host3', OTHER: 'host1'}, hosts)
    assert moves == [(SERVER, [('host3', 'host1')]),
                     (OTHER, [('host1', 'host2')])]
    with pytest.raises(ValueError):
        workloads.moves(workloads.Workload('c', 'live', 1, width=3),
                        [SERVER, OTHER], {}, hosts)


def test_a_move_lasts_its_workload_s_length_give_or_take_the_spread():
    chain = workloads.Workload('live-20s', 'live', 20, chain=50,
                               copy_spread=0.1)
    lengths = chain.lengths(seed=7, index=0)
    assert len(lengths) == 50
    assert all(18 <= length <= 22 for length in lengths)
    # Spread over most of a 5 s poll: the built-in's phase is not locked.
    assert max(lengths) - min(lengths) > 3


def test_every_variant_of_a_run_gets_the_same_lengths():
    chain = workloads.Workload('live-20s', 'live', 20, chain=2,
                               copy_spread=0.1)
    again = workloads.Workload('live-20s', 'live', 20, chain=2,
                               copy_spread=0.1)
    assert chain.lengths(3, 1) == again.lengths(3, 1)
    assert chain.lengths(3, 1) != chain.lengths(3, 0)
    assert chain.lengths(3, 1) != chain.lengths(4, 1)


def test_without_spread_every_move_lasts_exactly_its_length():
    chain = workloads.Workload('cold-3s', 'cold', 3, chain=3)
    assert chain.lengths(seed=1, index=0) == [3.0, 3.0, 3.0]


def test_a_spread_of_a_whole_length_or_more_is_refused():
    with pytest.raises(ValueError, match='copy_spread must be a fraction'):
        workloads.Workload('live-3s', 'live', 3, copy_spread=1)


def test_a_run_spreads_every_move_but_the_stuck_copy_s():
    plan = workloads.workloads(copy_spread=0.1)
    assert [w.copy_spread for w in plan if w.stuck] == [0]
    assert {w.copy_spread for w in plan if not w.stuck} == {0.1}


def test_the_fake_driver_is_given_each_server_s_lengths():
    chain = workloads.Workload('live-20s', 'live', 20, chain=2,
                               copy_spread=0.1)
    lengths = chain.lengths(seed=1, index=0)
    registry = driver_behaviour.DriverRegistry()
    registry.configure(SERVER, **chain.driver_behaviour(lengths))
    assert [registry.take_behaviour(SERVER, 'live')['live_duration']
            for _ in range(2)] == lengths


def test_the_alias_engine_runs_only_on_the_stock_shaped_workload():
    names = {w.name: w for w in workloads.workloads()}
    alias = [v for v in workloads.VARIANTS if v.name == 'alias']
    assert [v.workflow_engine for v in alias] == ['nova_migrate']
    assert names['stock-maint'].runs(alias[0])
    assert not names['live-20s'].runs(alias[0])
    assert all(names['stock-maint'].runs(v) for v in workloads.VARIANTS
               if not v.stuck_only)


def test_a_stock_shaped_workload_cannot_chain_moves():
    with pytest.raises(ValueError, match='no known destination'):
        workloads.Workload('s', 'live', 20, chain=2, stock=True)


def test_the_report_says_where_the_concurrent_runs_requests_went():
    rows = [{'workload': 'live-3s', 'variant': 'plugin',
             'requests_by_kind': {'GET /compute/v2.1/servers/{id}': 9}},
            {'workload': 'concurrent-10', 'variant': 'plugin',
             'requests_by_kind': {
                 'GET /compute/v2.1/servers/{id}': 10,
                 'GET /compute/v2.1/servers/detail?changes-since': 14}}]
    assert report.request_lines(rows) == [
        'concurrent-10/plugin:',
        '      14  GET /servers/detail?changes-since',
        '      10  GET /servers/{id}']


def run_row(workload, variant, latencies, requests, figures=5.0):
    return {'workload': workload, 'variant': variant,
            'figures_interval': figures, 'latencies': latencies,
            'migrations': len(latencies), 'requests': {'total': requests}}


def test_the_report_reads_each_variant_against_the_built_in_at_5_s():
    rows = [run_row('live-20s', 'builtin-5s', [2.0, 4.0], 26),
            run_row('live-20s', 'plugin', [0.3, 0.5], 12),
            run_row('live-60s', 'builtin-5s', [0.6], 21),
            run_row('live-60s', 'plugin', [0.3], 7),
            run_row('live-60s-nofig', 'builtin-5s', [2.0], 21, figures=0),
            run_row('live-60s-nofig', 'plugin', [1.0], 19, figures=0)]
    lines = report.baseline_table(rows).splitlines()[2:]
    assert [line.split() for line in lines] == [
        ['live-20s', 'plugin', '0.40', '3.00', '0.13', '6.0', '13.0',
         '0.46'],
        ['live-60s', 'plugin', '0.30', '0.60', '0.50', '7.0', '21.0',
         '0.33'],
        ['live-60s-nofig', 'plugin', '1.00', '2.00', '0.50', '19.0',
         '21.0', '0.90'],
        # Each migration once: (0.3 + 0.5 + 0.3) / 3 against 6.6 / 3.
        ['live', 'rows', 'with', 'figures', 'plugin', '0.37', '2.20',
         '0.17', '6.3', '15.7', '0.40']]


def test_the_report_gives_live_latency_from_each_nova_anchor():
    def figures(median, p95):
        return {'median': median, 'p95': p95, 'count': 2}

    rows = [{'workload': 'live-20s', 'variant': 'plugin', 'kind': 'live',
             'latency': figures(0.4, 0.45),
             'latency_driver_event': figures(0.05, 0.1),
             'latency_record': figures(-0.02, None)},
            {'workload': 'cold-3s', 'variant': 'plugin', 'kind': 'cold',
             'latency': figures(2.4, 2.5)}]
    lines = report.anchor_table(rows).splitlines()
    assert lines[0].split() == ['workload', 'variant', 'landed', 'driver',
                                'finish', 'record', 'completed']
    assert len(lines) == 4
    assert lines[3].split() == ['live-20s', 'plugin', '0.40', '0.45',
                                '0.05', '0.10', '-0.02', '-']


# -- the stuck live copy ----------------------------------------------------

def test_the_stuck_copy_is_run_by_the_plugin_with_and_without_detection():
    stuck = {w.name: w for w in workloads.workloads()}['live-stuck']
    assert [v.name for v in workloads.VARIANTS if stuck.runs(v)] == [
        'plugin', 'no-stall']


def test_the_timeout_alone_variant_runs_on_the_stuck_copy_alone():
    no_stall = [v for v in workloads.VARIANTS if v.name == 'no-stall'][0]
    assert no_stall.settings == {'live_migration_stall_window': 0}
    assert [w.name for w in workloads.workloads() if w.runs(no_stall)] == [
        'live-stuck']


def test_the_stuck_copy_dirties_its_memory_and_is_expected_to_fail():
    stuck = {w.name: w for w in workloads.workloads()}['live-stuck']
    assert stuck.driver_behaviour()['live_dirty_at'] == workloads.STUCK_AT
    assert stuck.expected_state == 'FAILED'
    assert stuck.plugin_options == {'live_timeout': workloads.STUCK_TIMEOUT}


def test_a_copy_runs_from_its_start_to_its_finish_event():
    events = [live_started(SERVER, T0), live_started(OTHER, T0 + 1),
              live_finished(OTHER, T0 + 301, outcome='cancelled'),
              live_finished(SERVER, T0 + 125, outcome='cancelled')]
    assert metrics.stop_seconds(events) == [125.0, 300.0]


def test_the_report_says_how_soon_each_variant_stopped_the_stuck_copy():
    rows = [{'workload': 'live-stuck', 'variant': 'plugin', 'stuck': True,
             'plugin_options': {'live_timeout': 300},
             'stopped_after': [126.4],
             'status_messages': ['... stalled: remaining ...; aborted']},
            {'workload': 'live-stuck', 'variant': 'no-stall', 'stuck': True,
             'plugin_options': {'live_timeout': 300,
                                'live_migration_stall_window': 0},
             'stopped_after': [301.2],
             'status_messages': ['... did not finish within its 300 s']},
            {'workload': 'live-3s', 'variant': 'plugin', 'stuck': False}]
    lines = report.stuck_table(rows).splitlines()
    assert [line.split() for line in lines[2:]] == [
        ['plugin', 'default', '300', 's', '126', 's', 'stalled'],
        ['no-stall', '0', 's', '300', 's', '301', 's', 'timeout']]
