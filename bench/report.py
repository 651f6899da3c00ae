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

"""The benchmark's output: a plain-text table and the same data as JSON.

The table fits a 110-column terminal; LEGEND says what each column means.
The JSON holds every row in full (each latency, the request counts, the
failures' status messages), the configuration and the machine.
"""

import json

from bench import metrics

LEGEND = [
    'lat: seconds from Nova finishing a migration to the action saved '
    'SUCCEEDED,',
    '  median and p95 (nearest rank). Live: from the server landing on '
    'its destination',
    '  (the moment nova-compute saved it there with no task, recorded '
    'by the embedded',
    '  Nova); cold: from the server reaching VERIFY_RESIZE (the',
    "  fake driver's finish), so the confirm is included. The live "
    'latencies from the',
    "  migration record turning 'completed' and from the driver's "
    'finish are below.',
    "figs: seconds between two saves of a live copy's figures by Nova "
    "(the libvirt driver's",
    '  default 5 s); none: no figures, as with Nova\'s other drivers.',
    'req/m, rd/m, wr/m: compute API requests per migration: all of them, '
    'GET+HEAD, others;',
    '  req/s: all requests / wall s of the plan; cpu s: applier process '
    'CPU in the plan;',
    '  nova s: embedded Nova CPU meanwhile.',
]

COLUMNS = (
    # (title, width, function of the row giving the cell)
    ('workload', 14, lambda r: r['workload']),
    ('variant', 13, lambda r: r['variant']),
    ('figs', 4, lambda r: figures_cell(r.get('figures_interval'))),
    ('migr', 4, lambda r: r['migrations']),
    ('ok', 3, lambda r: r['succeeded']),
    ('lat med', 7, lambda r: r['latency']['median']),
    ('lat p95', 7, lambda r: r['latency']['p95']),
    ('req/m', 5, lambda r: requests_per_migration(r)),
    ('rd/m', 5, lambda r: r['reads_per_migration']),
    ('wr/m', 5, lambda r: r['writes_per_migration']),
    ('req/s', 6, lambda r: r['requests_per_second']),
    ('wall s', 7, lambda r: r['wall_seconds']),
    ('cpu s', 6, lambda r: r['applier_cpu_seconds']),
    ('nova s', 6, lambda r: r['nova_cpu_seconds']),
)


def requests_per_migration(row):
    """All compute API requests per migration of a row (None: unknown)."""
    if row.get('requests_per_migration') is not None:
        return row['requests_per_migration']
    reads, writes = row.get('reads_per_migration'), \
        row.get('writes_per_migration')
    return None if reads is None or writes is None else reads + writes


def figures_cell(interval):
    """The figures cadence of a row: '5s', 'none', or '-' (cold)."""
    if interval is None:
        return '-'
    return '%gs' % interval if interval else 'none'


def cell(value, width):
    if value is None:
        text = '-'
    elif isinstance(value, float):
        text = ('%.2f' % value if abs(value) < 100 else '%.1f' % value)
    else:
        text = str(value)
    return text.rjust(width) if not isinstance(value, str) else \
        text.ljust(width)


def table(rows):
    """The results table, one line per (workload, variant) run."""
    header = ' '.join(title.rjust(width) if index > 1 else
                      title.ljust(width)
                      for index, (title, width, _) in enumerate(COLUMNS))
    lines = [header, '-' * len(header)]
    previous = None
    for row in rows:
        if previous is not None and row['workload'] != previous:
            lines.append('')
        previous = row['workload']
        lines.append(' '.join(cell(get(row), width)
                              for _, width, get in COLUMNS))
    return '\n'.join(lines)


# Live detection latency from each moment the embedded Nova records, in
# the order Nova reaches them: the server landing (the table's lat), the
# fake driver's finish event, the migration record turning completed.
LIVE_ANCHORS = (
    ('landed', 'latency'),
    ('driver finish', 'latency_driver_event'),
    ('record completed', 'latency_record'),
)


def anchor_table(rows):
    """Median and p95 live latency of every run from each Nova anchor."""
    header = '%-14s %-13s' % ('workload', 'variant') + ''.join(
        ' %17s' % name for name, _ in LIVE_ANCHORS)
    lines = [header, '%-28s' % '' + ' %17s' % 'med    p95'
             * len(LIVE_ANCHORS), '-' * len(header)]
    for row in rows:
        if row.get('kind') != 'live':
            continue
        cells = []
        for _, key in LIVE_ANCHORS:
            figures = row.get(key) or {}
            cells.append(' %s %s' % (
                _number(figures.get('median'), 8, '%.2f'),
                _number(figures.get('p95'), 8, '%.2f')))
        lines.append('%-14s %-13s' % (row['workload'], row['variant'])
                     + ''.join(cells))
    return '\n'.join(lines)


# What every other variant is read against: Watcher's default.
BASELINE = 'builtin-5s'
POOLED = 'live rows with figures'


def _ratio(value, baseline):
    return None if value is None or not baseline else value / baseline


def _pooled(rows):
    """Mean latency and requests per migration, each migration once."""
    latencies = [v for row in rows for v in row.get('latencies') or []
                 if v is not None]
    requests = sum(row['requests']['total'] for row in rows)
    migrations = sum(row['migrations'] for row in rows)
    return (sum(latencies) / len(latencies) if latencies else None,
            requests / float(migrations) if migrations else None)


def _unique(values):
    return [v for i, v in enumerate(values) if v not in values[:i]]


def baseline_table(rows, baseline=BASELINE):
    """Each variant's mean latency and requests against ``baseline``'s.

    Per workload, then pooled over the live workloads with figures. The
    stuck copy, which has no landing, is left out.
    """
    runs = {(r['workload'], r['variant']): r for r in rows
            if not r.get('stuck') and r.get('requests')}
    names = _unique([w for w, _ in runs])
    variants = _unique([v for _, v in runs if v != baseline])
    figured = [w for w in names
               if (runs.get((w, baseline)) or {}).get('figures_interval')]
    header = '%-22s %-13s %7s %10s %5s %6s %10s %5s' % (
        'workload', 'variant', 'lat', baseline, 'x', 'req/m', baseline, 'x')
    lines = [header, '-' * len(header)]
    for label, members in [(w, [w]) for w in names] + [(POOLED, figured)]:
        for variant in variants:
            pairs = [(runs[(w, variant)], runs[(w, baseline)])
                     for w in members
                     if (w, variant) in runs and (w, baseline) in runs]
            if not pairs:
                continue
            latency, requests = _pooled([mine for mine, _ in pairs])
            their_latency, their_requests = _pooled(
                [theirs for _, theirs in pairs])
            lines.append('%-22s %-13s %s %s %s %s %s %s' % (
                label, variant, _number(latency, 7, '%.2f'),
                _number(their_latency, 10, '%.2f'),
                _number(_ratio(latency, their_latency), 5, '%.2f'),
                _number(requests, 6, '%.1f'),
                _number(their_requests, 10, '%.1f'),
                _number(_ratio(requests, their_requests), 5, '%.2f')))
    return '\n'.join(lines)


def stuck_table(rows):
    """How soon each variant stopped the stuck copies, and how."""
    header = '%-10s %-12s %-8s %10s  %s' % (
        'variant', 'stall window', 'timeout', 'stopped', 'how')
    lines = [header, '-' * len(header)]
    for row in rows:
        if not row.get('stuck'):
            continue
        options = row.get('plugin_options') or {}
        window = options.get('live_migration_stall_window')
        stopped = row.get('stopped_after') or []
        messages = [m or '' for m in row.get('status_messages') or ()]
        how = ('stalled' if any('stalled' in m for m in messages)
               else 'timeout' if any('did not finish' in m
                                     for m in messages) else '-')
        lines.append('%-10s %-12s %-8s %10s  %s' % (
            row['variant'],
            'default' if window is None else '%s s' % window,
            '%s s' % options.get('live_timeout', '-'),
            _number(max(stopped) if stopped else None, 8, '%.0f') + ' s',
            how))
    return '\n'.join(lines)


def problems(rows):
    """Lines naming every failed action, unmatched one and run error."""
    lines = []
    for row in rows:
        name = '%s/%s' % (row['workload'], row['variant'])
        for failure in row.get('failures', ()):
            lines.append('%s: action %s %s: %s'
                         % (name, failure['uuid'], failure['state'],
                            (failure['status_message'] or '')[:200]))
        if row.get('unmatched'):
            lines.append('%s: %d succeeded actions without a Nova finish '
                         'event (no latency)' % (name, row['unmatched']))
        if row.get('requests', {}).get('outside'):
            lines.append('%s: %d requests outside the plan window (not '
                         'counted)' % (name, row['requests']['outside']))
        if row.get('error'):
            lines.append('%s: applier run failed: %s'
                         % (name, row['error'].splitlines()[0][:300]))
    return lines


def request_lines(rows, prefix='concurrent'):
    """Where the requests went, by method and path, per row.

    Rows of the ``prefix`` workloads and of the variants listening to
    notifications.
    """
    lines = []
    for row in rows:
        kinds = row.get('requests_by_kind')
        if not kinds or not (row['workload'].startswith(prefix) or
                             row.get('notifications')):
            continue
        lines.append('%s/%s:' % (row['workload'], row['variant']))
        for kind, count in sorted(kinds.items(), key=lambda i: -i[1]):
            lines.append('  %6d  %s' % (count, kind.replace(
                '/compute/v2.1', '')))
    return lines


LISTENER_HEADER = '%-14s %-13s %6s %7s %7s %7s %7s %7s %7s' % (
    'workload', 'variant', 'cpu s', 'cpu +', 'RSS MiB', 'RSS +',
    'recv/m', 'event/m', 'deliv/m')


def listener_table(rows):
    """What listening cost, per listening row (metrics.listener_costs)."""
    lines = [LISTENER_HEADER, '-' * len(LISTENER_HEADER)]
    for cost in metrics.listener_costs(rows):
        lines.append('%-14s %-13s %s %s %s %s %s %s %s' % (
            cost['workload'], cost['variant'],
            _number(cost['cpu_seconds'], 6, '%.2f'),
            _number(cost['cpu_delta'], 7, '%+.2f'),
            _number(cost['max_rss_mib'], 7, '%.1f'),
            _number(cost['rss_delta'], 7, '%+.1f'),
            _number(cost['received_per_migration'], 7, '%.1f'),
            _number(cost['events_per_migration'], 7, '%.1f'),
            _number(cost['delivered_per_migration'], 7, '%.1f')))
    return '\n'.join(lines)


LISTENER_LEGEND = [
    "cpu s: the applier process's CPU in the plan; RSS MiB: its peak "
    'resident memory;',
    "  cpu +, RSS +: the same minus the polling plugin's on the same "
    'workload. recv/m:',
    "  messages the listener took from its queue per migration (Nova's "
    'every versioned',
    "  notification of the run); event/m: those about a server's move; "
    'deliv/m: handed',
    '  to an action following that server.',
]


def broker_lines(broker):
    """What the run's broker was, or why there was none."""
    if not broker:
        return []
    if broker.get('error'):
        return ['NO BROKER: %s; the variants listening to notifications '
                '(%s) did not run' % (broker['error'],
                                      ', '.join(broker.get('skipped', ())))]
    return ["Nova published its versioned notifications (state changes "
            "included) to a private RabbitMQ at %s" % broker['url']]


def load_table(results):
    """The stevedore load cost table."""
    header = '%-13s %-19s %8s %8s %10s %8s' % (
        'action', 'context', 'load ms', 'RSS MiB', 'traced MiB', 'modules')
    lines = [header, '-' * len(header)]
    for item in results:
        lines.append('%-13s %-19s %s %s %s %s' % (
            item['action'], item['context'],
            _number(item['load_ms'], 8, '%.1f'),
            _number(item['vmrss_mib'], 8, '%.1f'),
            _number(item['tracemalloc_peak_mib'], 10, '%.1f'),
            _number(item['modules'], 8, '%d')))
    return '\n'.join(lines)


def _number(value, width, form):
    return ('-' if value is None else form % value).rjust(width)


def machine_lines(machine):
    return [
        'machine: %s CPUs (%s), load %s at start, %s at end' % (
            machine['cpus'], machine['cpu_model'],
            ' '.join('%.1f' % v for v in machine['loadavg_at_start']),
            ' '.join('%.1f' % v for v in
                     machine.get('loadavg_at_end') or ())),
        machine['platform'],
        'python %s, nova %s, python-watcher %s, watcher-migrate %s' % (
            machine['python'], machine['nova'], machine['python-watcher'],
            machine['watcher-migrate']),
    ]


def text(results):
    """The whole report as printed."""
    lines = ['watcher-migrate benchmark: built-in migrate and '
             'nova_migrate in the real Watcher applier']
    lines += machine_lines(results['machine'])
    config = results['config']
    lines.append('%d hosts, applier in %s mode, %s live migration slots '
                 'in Nova, %.1f min' % (
                     config['hosts'], config['mode'],
                     config['live_migration_slots'],
                     results['duration_seconds'] / 60.0))
    if config.get('figures_interval') is not None:
        lines.append('live copies of %d MiB save their figures every %g s '
                     "(libvirt's default), none on the -nofig rows" % (
                         config['memory_bytes'] >> 20,
                         config['figures_interval']))
    if config.get('copy_spread'):
        lines.append("each move lasts its workload's length +/- up to %g %%, "
                     'the same draws for every variant (--seed %s)' % (
                         100 * config['copy_spread'], config['seed']))
    broker = broker_lines(results.get('broker'))
    lines += broker
    for variant in config['variants']:
        engine = variant.get('workflow_engine', 'taskflow')
        lines.append('  %-13s = %s%s, %s%s' % (
            variant['name'], variant['action_type'],
            '' if engine == 'taskflow'
            else ' through workflow_engine = %s' % engine,
            ' '.join(['[nova] %s = %s' % item for item in
                      sorted(variant['nova_options'].items())] +
                     ['%s = %s' % item for item in sorted(
                         variant.get('plugin_options', {}).items())]) or
            'its default options',
            ', notification_transport_url = the broker'
            if variant.get('notifications') else ''))
    lines.append('')
    lines.append(table(results['rows']))
    lines.append('')
    lines += LEGEND
    lines.append('')
    lines.append('Live detection latency (s) from each moment Nova records, '
                 'in the order Nova')
    lines.append('reaches them (median, p95; < 0: the action returned '
                 'before that moment):')
    lines.append(anchor_table(results['rows']))
    if any(row['variant'] == BASELINE for row in results['rows']):
        lines.append('')
        lines.append('Mean detection latency (s) and requests per '
                     'migration against %s of this run' % BASELINE)
        lines.append('(x: the ratio); the last lines pool every '
                     'migration of the live rows with figures:')
        lines.append(baseline_table(results['rows']))
    if any(row.get('notifications') for row in results['rows']):
        lines.append('')
        lines.append('What listening to the notifications cost:')
        lines.append(listener_table(results['rows']))
        lines += LISTENER_LEGEND
    where = request_lines(results['rows'])
    if where:
        lines.append('')
        lines.append('Compute API requests of the concurrent and the '
                     'listening runs, by method and path:')
        lines += where
    if any(row.get('stuck') for row in results['rows']):
        lines.append('')
        lines.append('A stuck live copy (the guest dirties memory as fast '
                     'as it is copied): seconds')
        lines.append("from its start to its stop in Nova's driver, with "
                     'stall detection and by the timeout alone:')
        lines.append(stuck_table(results['rows']))
    found = problems(results['rows'])
    if (results.get('broker') or {}).get('error'):
        found = broker + found
    if found:
        lines.append('')
        lines.append('PROBLEMS:')
        lines += ['  ' + line for line in found]
    if results.get('load_cost'):
        lines.append('')
        lines.append('Loading the action with stevedore DriverManager('
                     "'watcher_actions', NAME),")
        lines.append('median of fresh processes (fresh: only stevedore '
                     'imported before):')
        lines.append(load_table(results['load_cost']))
    return '\n'.join(lines)


def write_json(results, path):
    with open(path, 'w') as handle:
        json.dump(results, handle, indent=2, sort_keys=True)
        handle.write('\n')
