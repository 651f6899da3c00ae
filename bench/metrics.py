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

"""The benchmark's numbers, from the raw records of one applier run.

Pure functions over the data shapes the embedded Nova and Watcher give:
fake-driver events (``{'event', 'instance', 'time', 'dest', 'outcome',
...}``, epoch seconds), os-migrations records, compute API request log
entries (``{'method', 'path', 'start', 'end', 'status', ...}``) and
Watcher action rows (uuid, server, destination, state, ``updated_at`` as
Watcher stores it: naive UTC). Kept apart from the code that produces
the data so that they are unit tested (tests/unit/test_bench_metrics.py)
on their own.
"""

import collections
import datetime
import math
import re
import statistics

READ_METHODS = ('GET', 'HEAD')

# The event that says Nova is done with a migration, per migration type:
# for live migrations the server landing on its destination (the embedded
# Nova records when nova-compute has saved it there with no task: from
# then on any reader sees it, and both actions wait for it), for cold ones
# the fake driver's finish_migration (the server reaches VERIFY_RESIZE
# right after), so that a cold latency includes the confirm. Two more
# references for live migrations, in the
# JSON: the migration record turning ``completed`` (its ``updated_at``,
# from os-migrations, written at the end of Nova's post-migration steps,
# which lag the landing by seconds when Nova is busy) and the fake
# driver's live finish event, recorded after those steps returned.
ANCHORS = {'live': 'live_migration_landed',
           'cold': 'cold_migration_finished'}
RECORD_EVENT = 'migration_completed'
DRIVER_EVENTS = {'live': 'live_migration_finished',
                 'cold': 'cold_migration_finished'}
SUCCESS_OUTCOMES = ('completed', 'finished')

# An action may say done before Nova has finished: Nova shows the server
# on its destination with no task before its last post-migration steps,
# with 50 migrations in one Nova process tens of seconds before. A finish
# up to this many seconds after the action returned still counts as the
# end of its migration.
MATCH_TOLERANCE = 120.0


def epoch_seconds(value):
    """Epoch seconds of a Watcher timestamp.

    Watcher stores ``updated_at`` as naive UTC (``timeutils.utcnow()``);
    its objects hand it out timezone-aware. Strings are read as ISO 8601.
    """
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value.replace('Z', '+00:00'))
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.timestamp()


def percentile(values, q):
    """Nearest-rank percentile ``q`` (0 < q <= 100); None when empty."""
    if not 0 < q <= 100:
        raise ValueError('q must be in (0, 100]')
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, int(math.ceil(q / 100.0 * len(ordered))))
    return ordered[rank - 1]


def latency_summary(latencies):
    """count, median, p95 (nearest rank) and max of ``latencies``."""
    values = [v for v in latencies if v is not None]
    if not values:
        return {'count': 0, 'median': None, 'p95': None, 'max': None}
    return {'count': len(values), 'median': statistics.median(values),
            'p95': percentile(values, 95), 'max': max(values)}


def record_events(migrations):
    """os-migrations records as events: each completed live migration.

    :param migrations: records of GET /os-migrations (microversion 2.80:
        ``instance_uuid``, ``migration_type``, ``status``,
        ``source_compute``, ``dest_compute``, ``updated_at`` naive UTC)
    """
    return [{'event': RECORD_EVENT, 'instance': m['instance_uuid'],
             'time': epoch_seconds(m['updated_at']),
             'source': m.get('source_compute'),
             'dest': m.get('dest_compute'), 'outcome': 'completed',
             'migration': m.get('uuid')}
            for m in migrations
            if m.get('migration_type') == 'live-migration' and
            m.get('status') == 'completed' and m.get('updated_at')]


def finish_events(events, name):
    """The successful events called ``name``."""
    return [e for e in events
            if e['event'] == name and e.get('outcome') in SUCCESS_OUTCOMES]


def detection_latencies(actions, events, name, tolerance=MATCH_TOLERANCE):
    """Match each action to the end of its migration in Nova.

    :param actions: dicts with ``uuid``, ``server``, ``destination``,
        ``state`` and ``returned`` (epoch seconds the action was saved in
        its final state)
    :param events: the fake driver's events of the run (and
        :func:`record_events`)
    :param name: the event that marks the end: ANCHORS[kind],
        RECORD_EVENT or DRIVER_EVENTS[kind]
    :returns: one dict per action, in the given order: ``uuid``,
        ``state``, ``finished`` (epoch of Nova's end, None when no event
        matched), ``returned`` and ``latency`` (returned - finished, only
        for SUCCEEDED actions with a matching event)

    An action's migration is the unused successful event ``name`` of the
    same server and destination nearest to the moment the action returned
    and no later than ``tolerance`` seconds after it.
    """
    candidates = sorted(finish_events(events, name), key=lambda e: e['time'])
    used = set()
    results = []
    for action in actions:
        returned = action.get('returned')
        best = None
        if returned is not None:
            for index, event in enumerate(candidates):
                if (index in used or
                        event['instance'] != action['server'] or
                        event.get('dest') != action['destination'] or
                        event['time'] > returned + tolerance):
                    continue
                if best is None or (abs(returned - event['time']) <
                                    abs(returned - candidates[best]['time'])):
                    best = index
        finished = None
        if best is not None:
            used.add(best)
            finished = candidates[best]['time']
        latency = None
        if action['state'] == 'SUCCEEDED' and finished is not None:
            latency = returned - finished
        results.append({'uuid': action['uuid'], 'state': action['state'],
                        'finished': finished, 'returned': returned,
                        'latency': latency})
    return results


def stop_seconds(events):
    """Seconds from each live copy's start to its end, in Nova's driver.

    For the stuck workload: how long a copy that never converges ran
    before the action stopped it (abort or force-complete).
    """
    started = {}
    result = []
    for event in sorted(events, key=lambda e: e['time']):
        if event['event'] == 'live_migration_started':
            started[event['instance']] = event['time']
        elif event['event'] == 'live_migration_finished' and \
                event['instance'] in started:
            result.append(event['time'] - started.pop(event['instance']))
    return result


def count_requests(requests, start, end):
    """Compute API requests that arrived in [start, end], by kind.

    :returns: ``reads`` (GET / HEAD), ``writes`` (everything else),
        ``total``, and ``outside``: requests of the log outside the window
        (they are not counted in the others)
    """
    reads = writes = outside = 0
    for request in requests:
        if not start <= request['start'] <= end:
            outside += 1
        elif request['method'].upper() in READ_METHODS:
            reads += 1
        else:
            writes += 1
    return {'reads': reads, 'writes': writes, 'total': reads + writes,
            'outside': outside}


_ID = re.compile(r'/(?:[0-9a-f]{8}-[0-9a-f-]{27}|[0-9]+)(?=/|$)')


def request_kinds(requests, start, end):
    """Requests in [start, end] counted by method, path and action.

    Ids in the path become ``{id}``, query values are dropped and a
    server action's name is added, so that e.g. every ``GET
    /servers/{id}`` of a run is one line: where a variant's requests go.
    """
    kinds = collections.Counter()
    for request in requests:
        if start <= request['start'] <= end:
            kind = '%s %s' % (request['method'].upper(),
                              _ID.sub('/{id}', request['path']))
            keys = sorted(part.split('=', 1)[0] for part in
                          (request.get('query') or '').split('&') if part)
            if keys:
                kind += '?' + '&'.join(keys)
            if request.get('action'):
                kind += ' ' + request['action']
            kinds[kind] += 1
    return dict(kinds)


def per(value, count):
    """``value / count``, None when there is nothing to divide by."""
    if value is None or not count:
        return None
    return float(value) / count


def summarize(actions, events, requests, kind, window, wall_seconds,
              cpu_seconds, migrations=(), max_rss_kib=None,
              listener_counts=None):
    """The row of one (variant, workload) run.

    :param window: (launched_at, finished_at) of the plans, epoch seconds
    :param migrations: the servers' os-migrations records
    :param max_rss_kib: the applier process's peak resident memory
    :param listener_counts: what the applier's notification listener
        consumed (``NotificationListener.counts()``), None if none listened
    """
    events = list(events) + record_events(migrations)
    matched = detection_latencies(actions, events, ANCHORS[kind])
    driver = detection_latencies(actions, events, DRIVER_EVENTS[kind])
    record = detection_latencies(actions, events, RECORD_EVENT)
    states = [a['state'] for a in actions]
    succeeded = states.count('SUCCEEDED')
    requests_count = count_requests(requests, window[0], window[1])
    latency = latency_summary([m['latency'] for m in matched])
    return {
        'migrations': len(actions),
        'succeeded': succeeded,
        'failed': len(actions) - succeeded,
        'unmatched': sum(1 for m in matched if m['state'] == 'SUCCEEDED'
                         and m['latency'] is None),
        'latency': latency,
        'latencies': [m['latency'] for m in matched],
        'latency_driver_event': latency_summary(
            [m['latency'] for m in driver]),
        'latencies_driver_event': [m['latency'] for m in driver],
        'latency_record': latency_summary([m['latency'] for m in record]),
        'latencies_record': [m['latency'] for m in record],
        'requests': requests_count,
        'requests_by_kind': request_kinds(requests, window[0], window[1]),
        'requests_per_migration': per(requests_count['total'],
                                      len(actions)),
        'reads_per_migration': per(requests_count['reads'], len(actions)),
        'writes_per_migration': per(requests_count['writes'], len(actions)),
        'requests_per_second': per(requests_count['total'], wall_seconds),
        'wall_seconds': wall_seconds,
        'applier_cpu_seconds': cpu_seconds,
        'applier_max_rss_mib': per(max_rss_kib, 1024),
        'listener': listener_counts,
        'messages_per_migration': per(
            (listener_counts or {}).get('received'), len(actions)),
    }


# The row a listening variant's cost is measured against: the same action
# with the same options, polling.
POLLING_TWIN = 'plugin'


def _difference(value, baseline):
    if value is None or baseline is None:
        return None
    return value - baseline


def listener_costs(rows, twin=POLLING_TWIN):
    """What listening cost, per listening row, against its polling twin.

    :param rows: the run's rows (:func:`summarize`, with ``workload``,
        ``variant`` and ``notifications``)
    :returns: per row with ``notifications``, in order: ``workload``,
        ``variant``, the applier's plan CPU seconds and peak RSS (MiB)
        with their differences to the ``twin`` row of the same workload
        (None without one), and the listener's messages per migration:
        ``received`` (consumed from its queue), ``events`` (about moves)
        and ``delivered`` (handed to an action)
    """
    twins = {row['workload']: row for row in rows
             if row.get('variant') == twin}
    costs = []
    for row in rows:
        if not row.get('notifications'):
            continue
        base = twins.get(row['workload'], {})
        counts = row.get('listener') or {}
        cpu = row.get('applier_cpu_seconds')
        rss = row.get('applier_max_rss_mib')
        costs.append({
            'workload': row['workload'], 'variant': row['variant'],
            'cpu_seconds': cpu,
            'cpu_delta': _difference(cpu, base.get('applier_cpu_seconds')),
            'max_rss_mib': rss,
            'rss_delta': _difference(rss, base.get('applier_max_rss_mib')),
            'received_per_migration': per(counts.get('received'),
                                          row.get('migrations')),
            'events_per_migration': per(counts.get('events'),
                                        row.get('migrations')),
            'delivered_per_migration': per(counts.get('delivered'),
                                           row.get('migrations')),
        })
    return costs
