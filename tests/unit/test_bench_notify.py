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

"""The benchmark's notification variant: its options, rows and report."""

import pytest

from bench import metrics
from bench import report
from bench import workloads

URL = 'rabbit://guest:guest@127.0.0.1:5672/'


def variant(name):
    return {v.name: v for v in workloads.VARIANTS}[name]


def test_only_plugin_notify_listens_to_notifications():
    assert [v.name for v in workloads.VARIANTS if v.notifications] == [
        'plugin-notify']
    assert variant('plugin-notify').action_type == 'nova_migrate'


def test_the_run_side_by_side_has_both_builtins_and_both_plugin_modes():
    assert {'builtin-5s', 'builtin-1s', 'plugin', 'plugin-notify'} <= {
        v.name for v in workloads.VARIANTS}


def test_the_notify_variant_listens_on_the_broker_in_the_given_pool():
    assert variant('plugin-notify').plugin_options(URL, 'pool-7') == {
        'notification_transport_url': URL, 'notification_pool': 'pool-7'}


@pytest.mark.parametrize('name', ['plugin', 'builtin-5s', 'builtin-1s'])
def test_the_other_variants_leave_the_transport_url_unset(name):
    assert variant(name).plugin_options(URL, 'pool-7') == {}


def test_the_notify_variant_cannot_run_without_a_broker():
    with pytest.raises(ValueError, match='plugin-notify .*no broker'):
        variant('plugin-notify').plugin_options(None, 'pool-7')


def test_a_variant_says_whether_it_listens_in_the_json():
    assert variant('plugin-notify').as_dict()['notifications'] is True
    assert variant('plugin').as_dict()['notifications'] is False


def summarized(actions=2, max_rss_kib=None, listener_counts=None):
    rows = [{'uuid': 'a%d' % i, 'server': 's%d' % i, 'destination': 'h2',
             'state': 'SUCCEEDED', 'returned': 100.0}
            for i in range(actions)]
    requests = [{'method': 'GET', 'path': '/servers/x', 'start': 50.0}] * 5
    requests += [{'method': 'POST', 'path': '/servers/x/action',
                  'start': 50.0}]
    return metrics.summarize(rows, [], requests, 'live', (0.0, 200.0),
                             100.0, 1.0, max_rss_kib=max_rss_kib,
                             listener_counts=listener_counts)


def test_summarize_counts_all_requests_per_migration():
    assert summarized(actions=2)['requests_per_migration'] == 3.0


def test_summarize_gives_the_applier_peak_memory_in_mib():
    assert summarized(max_rss_kib=2048 * 100)['applier_max_rss_mib'] == 200


def test_summarize_gives_the_listener_messages_per_migration():
    counts = {'received': 30, 'events': 20, 'duplicates': 0,
              'delivered': 10}
    row = summarized(actions=2, listener_counts=counts)
    assert row['listener'] == counts
    assert row['messages_per_migration'] == 15.0


def test_summarize_without_a_listener_has_no_message_figures():
    row = summarized()
    assert row['listener'] is None
    assert row['messages_per_migration'] is None


def row(workload, name, cpu, rss, counts=None, migrations=10):
    return {'workload': workload, 'variant': name,
            'notifications': name == 'plugin-notify',
            'migrations': migrations, 'applier_cpu_seconds': cpu,
            'applier_max_rss_mib': rss, 'listener': counts}


def test_listener_cost_is_measured_against_polling_on_the_same_workload():
    counts = {'received': 200, 'events': 150, 'delivered': 40,
              'duplicates': 0}
    rows = [row('concurrent-10', 'plugin', 3.0, 150.0),
            row('concurrent-10', 'builtin-5s', 5.0, 140.0),
            row('concurrent-10', 'plugin-notify', 3.5, 158.0, counts),
            row('live-20s', 'plugin', 1.0, 120.0, migrations=2)]
    [cost] = metrics.listener_costs(rows)
    assert cost['workload'] == 'concurrent-10'
    assert cost['cpu_delta'] == pytest.approx(0.5)
    assert cost['rss_delta'] == pytest.approx(8.0)
    assert (cost['received_per_migration'], cost['events_per_migration'],
            cost['delivered_per_migration']) == (20.0, 15.0, 4.0)


def test_listener_cost_without_a_polling_twin_has_no_difference():
    [cost] = metrics.listener_costs(
        [row('live-3s', 'plugin-notify', 2.0, 100.0)])
    assert cost['cpu_seconds'] == 2.0
    assert cost['cpu_delta'] is None and cost['rss_delta'] is None
    assert cost['received_per_migration'] is None


def test_the_listener_table_shows_costs_and_messages():
    counts = {'received': 200, 'events': 150, 'delivered': 40,
              'duplicates': 0}
    lines = report.listener_table(
        [row('concurrent-10', 'plugin', 3.0, 150.0),
         row('concurrent-10', 'plugin-notify', 3.5, 158.0, counts)]
    ).splitlines()
    assert lines[0].split() == ['workload', 'variant', 'cpu', 's', 'cpu',
                                '+', 'RSS', 'MiB', 'RSS', '+', 'recv/m',
                                'event/m', 'deliv/m']
    assert lines[2].split() == ['concurrent-10', 'plugin-notify', '3.50',
                                '+0.50', '158.0', '+8.0', '20.0', '15.0',
                                '4.0']
    assert len(lines) == 3


def table_row(name, reads, writes):
    figures = {'median': 0.03, 'p95': 0.1}
    return {'workload': 'live-20s', 'variant': name, 'migrations': 2,
            'succeeded': 2, 'latency': figures, 'figures_interval': 5.0,
            'reads_per_migration': reads, 'writes_per_migration': writes,
            'requests_per_second': 1.0, 'wall_seconds': 1.0,
            'applier_cpu_seconds': 1.0, 'nova_cpu_seconds': 1.0}


def test_the_table_shows_latency_and_requests_per_migration():
    lines = report.table([table_row('plugin-notify', 2.0, 1.0)]).splitlines()
    header = lines[0].split()
    assert header[:2] == ['workload', 'variant']
    cells = dict(zip(['lat med', 'lat p95', 'req/m', 'rd/m', 'wr/m'],
                     lines[2].split()[5:10]))
    assert cells == {'lat med': '0.03', 'lat p95': '0.10', 'req/m': '3.00',
                     'rd/m': '2.00', 'wr/m': '1.00'}
    assert ' '.join(header[5:12]) == 'lat med lat p95 req/m rd/m wr/m'


def test_the_table_keeps_the_long_variant_name_in_its_column():
    lines = report.table([table_row('plugin-notify', 2.0, 1.0),
                          table_row('plugin', 5.0, 1.0)]).splitlines()
    assert lines[2].split()[1] == 'plugin-notify'
    # Columns line up: the cells after the name start at the same place.
    assert lines[2].index(' 5s') == lines[3].index(' 5s')
    assert max(len(line) for line in lines) <= 110


def test_the_requests_of_every_listening_row_are_broken_down():
    rows = [{'workload': 'live-3s', 'variant': 'plugin',
             'requests_by_kind': {'GET /compute/v2.1/servers/{id}': 9}},
            {'workload': 'live-3s', 'variant': 'plugin-notify',
             'notifications': True,
             'requests_by_kind': {'GET /compute/v2.1/servers/{id}': 4}}]
    assert report.request_lines(rows) == [
        'live-3s/plugin-notify:', '       4  GET /servers/{id}']


def results(broker, rows=()):
    return {'machine': {'cpus': 2, 'cpu_model': 'x',
                        'loadavg_at_start': [0.0], 'loadavg_at_end': [0.0],
                        'platform': 'p', 'python': '3', 'nova': 'n',
                        'python-watcher': 'w', 'watcher-migrate': 'm'},
            'config': {'hosts': 6, 'mode': 'threading',
                       'live_migration_slots': 64,
                       'variants': [variant('plugin').as_dict()]},
            'duration_seconds': 60.0, 'rows': list(rows), 'broker': broker}


def test_the_report_says_loudly_when_the_broker_did_not_start():
    text = report.text(results({'error': 'no rabbitmq-server',
                                'skipped': ['plugin-notify']}))
    lines = text.splitlines()
    problems = lines[lines.index('PROBLEMS:') + 1:]
    assert problems == ['  NO BROKER: no rabbitmq-server; the variants '
                        'listening to notifications (plugin-notify) did '
                        'not run']


def test_the_report_names_the_broker_nova_published_to():
    text = report.text(results({'url': 'rabbit://guest:***@127.0.0.1:1/'}))
    assert 'to a private RabbitMQ at rabbit://guest:***@127.0.0.1:1/' in text
    assert 'PROBLEMS' not in text
