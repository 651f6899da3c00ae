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

"""``python -m bench``: the benchmark in one command.

In one process tree: measure the stevedore load cost of both actions
(fresh processes), start the embedded Nova with several hosts, create a
Watcher deployment (database, watcher.conf), boot the servers once, then
for each workload run every variant in turn (built-in at 5 s, plugin
polling, plugin woken by Nova's notifications, built-in at 1 s, and on
the stock-shaped workload the built-in ``migrate`` through the plugin's
alias engine), each in an applier process of its own, and print the
table and write the JSON. When a variant listening to notifications is
selected, a private RabbitMQ (tools/rabbitmq) runs for the whole run and
the embedded Nova publishes to it; if it cannot start, the run goes on
without those variants, says so, and exits with 1.
"""

import argparse
import contextlib
import os
import random
import shutil
import signal
import sys
import tempfile
import time

from bench import broker as bench_broker
from bench import loadcost
from bench import machine
from bench import report
from bench import runner
from bench import workloads
from embedded_nova import client as embedded_client
from embedded_nova import transport_url
from embedded_watcher import deployment

NOVA_PYTHON_VARIABLE = 'WATCHER_MIGRATE_NOVA_PYTHON'


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='python -m bench', description=__doc__.splitlines()[0],
        epilog="Live copies save their figures every %g s, as Nova's "
        'libvirt driver does by default ([libvirt] '
        'live_migration_monitor_interval); the -nofig workloads save none, '
        "as Nova's other drivers." % workloads.FIGURES_INTERVAL)
    parser.add_argument('--quick', action='store_true',
                        help='a smoke run of a few minutes: short '
                             'workloads, one repetition, N <= 10')
    parser.add_argument('--output', default='bench-results.json',
                        help='where to write the JSON (default: '
                             '%(default)s in the current directory)')
    parser.add_argument('--hosts', type=int, default=6,
                        help='compute hosts (default %(default)s)')
    parser.add_argument('--repeat-short', type=int, default=4,
                        help='3 s live migrations per variant, chained '
                             'in one plan (default %(default)s)')
    parser.add_argument('--repeat-medium', type=int, default=2,
                        help='20 s live migrations per variant '
                             '(default %(default)s)')
    parser.add_argument('--repeat-long', type=int, default=1,
                        help='60 s live migrations per variant, with '
                             'figures and without (live-60s-nofig) '
                             '(default %(default)s)')
    parser.add_argument('--repeat-cold', type=int, default=3,
                        help='3 s cold migrations per variant '
                             '(default %(default)s)')
    parser.add_argument('--concurrency', default='1,10,50',
                        help='numbers of concurrent 20 s live migrations '
                             '(default %(default)s)')
    parser.add_argument('--only', default='',
                        help='comma-separated workload names to run '
                             '(e.g. live-3s,concurrent-50)')
    parser.add_argument('--variants', default='',
                        help='comma-separated variant names to run '
                             '(default: all: %s; alias only on '
                             'stock-maint; plugin-notify needs '
                             'rabbitmq-server)' % ','.join(
                                 v.name for v in workloads.VARIANTS))
    parser.add_argument('--copy-spread', type=float,
                        default=workloads.COPY_SPREAD,
                        help="each move lasts its workload's length give "
                             'or take a drawn fraction of it up to this, '
                             'the same draws for every variant (default '
                             '%(default)s; 0: exact lengths, which lock '
                             "a poller's phase to the landings)")
    parser.add_argument('--seed', type=int, default=None,
                        help='what the lengths are drawn from (default: '
                             'a new one, printed and in the JSON)')
    parser.add_argument('--live-migration-slots', type=int, default=64,
                        help='live migrations the embedded Nova runs at '
                             'once (default %(default)s)')
    parser.add_argument('--mode', choices=sorted(deployment.MODES),
                        default='threading',
                        help="Watcher's threading mode for the applier "
                             "(default %(default)s, Watcher 17's default)")
    parser.add_argument('--load-runs', type=int, default=None,
                        help='fresh processes per load cost figure '
                             '(default 3, 1 with --quick; 0 skips it)')
    parser.add_argument('--load-trace-runs', type=int, default=None,
                        help='fresh processes with tracemalloc per load '
                             'cost figure (slow: default 1, 0 with '
                             '--quick)')
    parser.add_argument('--keep', action='store_true',
                        help='keep the work directory (logs, database); '
                             'it is always kept when something failed')
    args = parser.parse_args(argv)
    try:
        args.concurrency = [int(n) for n in args.concurrency.split(',')
                            if n.strip()]
    except ValueError:
        parser.error('--concurrency takes integers, e.g. 1,10,50')
    if args.load_runs is None:
        args.load_runs = 1 if args.quick else 3
    if args.load_trace_runs is None:
        args.load_trace_runs = 0 if args.quick else 1
    if args.hosts < 2:
        parser.error('--hosts must be at least 2')
    if not 0 <= args.copy_spread < 1:
        parser.error('--copy-spread must be a fraction >= 0 and < 1')
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 31)
    return args


def select(items, names, what):
    wanted = [n.strip() for n in names.split(',') if n.strip()]
    if not wanted:
        return list(items)
    known = [item.name for item in items]
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise SystemExit('unknown %s %s; known: %s'
                         % (what, ', '.join(unknown), ', '.join(known)))
    return [item for item in items if item.name in wanted]


def log(message):
    sys.stderr.write('[bench %s] %s\n' % (time.strftime('%H:%M:%S'),
                                          message))
    sys.stderr.flush()


def start_broker(stack, variants, results):
    """The broker's URL if a variant listens; None (and why) otherwise.

    :returns: (transport URL or None, the variants that can run)
    """
    listening = [v.name for v in variants if v.notifications]
    if not listening:
        return None, variants
    log('starting a private RabbitMQ (tools/rabbitmq) for %s'
        % ', '.join(listening))
    try:
        url = stack.enter_context(bench_broker.running())
    except bench_broker.BrokerUnavailable as exc:
        results['broker'] = {'error': str(exc), 'skipped': listening}
        log('NO BROKER (%s): running without %s'
            % (exc, ', '.join(listening)))
        return None, [v for v in variants if not v.notifications]
    results['broker'] = {'url': transport_url.masked(url)}
    return url, variants


def _exit_on_sigterm(signum, frame):
    # SystemExit unwinds the with blocks: Nova and the broker stop.
    raise SystemExit(128 + signum)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    started = time.time()
    nova_python = os.environ.get(NOVA_PYTHON_VARIABLE) or sys.executable
    plan = select(workloads.workloads(
        repeat_short=args.repeat_short, repeat_medium=args.repeat_medium,
        repeat_long=args.repeat_long, repeat_cold=args.repeat_cold,
        concurrency=args.concurrency, quick=args.quick,
        copy_spread=args.copy_spread),
        args.only, 'workload')
    variants = select(workloads.VARIANTS, args.variants, 'variant')
    hosts = ['host%d' % (i + 1) for i in range(args.hosts)]
    results = {
        'machine': machine.describe(nova_python),
        'config': {
            'quick': args.quick, 'hosts': len(hosts), 'mode': args.mode,
            'live_migration_slots': args.live_migration_slots,
            'workloads': [w.as_dict() for w in plan],
            'variants': [v.as_dict() for v in variants],
            'memory_bytes': workloads.MEMORY_BYTES,
            'figures_interval': workloads.FIGURES_INTERVAL,
            'copy_spread': args.copy_spread, 'seed': args.seed,
        },
        'rows': [],
        'load_cost': [],
    }
    work_dir = tempfile.mkdtemp(prefix='watcher-migrate-bench-')
    log('work directory (logs, watcher.conf, database): %s' % work_dir)
    ok = False
    try:
        with contextlib.ExitStack() as stack:
            broker_url, variants = start_broker(stack, variants, results)
            results['config']['variants'] = [v.as_dict() for v in variants]
            ok = run(args, plan, variants, hosts, nova_python, work_dir,
                     broker_url, results)
    finally:
        results['duration_seconds'] = time.time() - started
        results['machine']['loadavg_at_end'] = list(os.getloadavg())
        results['work_dir'] = work_dir
        report.write_json(results, args.output)
        log('JSON written to %s' % os.path.abspath(args.output))
    print(report.text(results))
    if ok and not args.keep:
        shutil.rmtree(work_dir, ignore_errors=True)
    else:
        log('kept %s' % work_dir)
    return 0 if ok else 1


def run(args, plan, variants, hosts, nova_python, work_dir, broker_url,
        results):
    """The load cost and every run of the plan; whether all went well."""
    if args.load_runs > 0:
        log('measuring the stevedore load cost')
        results['load_cost'] = loadcost.measure(
            runs=args.load_runs, trace_runs=args.load_trace_runs)
    cloud = embedded_client.EmbeddedNova(
        hosts=hosts, python=nova_python,
        log_file=os.path.join(work_dir, 'nova.log'),
        live_migration_slots=args.live_migration_slots,
        notification_url=broker_url)
    log('starting the embedded Nova with %d hosts' % len(hosts))
    with cloud:
        watcher_dir = os.path.join(work_dir, 'watcher')
        os.mkdir(watcher_dir)
        site = deployment.Deployment(watcher_dir, cloud).create()
        bench = runner.Runner(cloud, site, mode=args.mode, log=log,
                              broker_url=broker_url, seed=args.seed)
        bench.boot(max([w.width for w in plan] or [0]))
        for workload in plan:
            for variant in [v for v in variants if workload.runs(v)]:
                log('%s with %s: %d migrations'
                    % (workload.name, variant.name, workload.migrations))
                row = bench.run(workload, variant)
                results['rows'].append(row)
                log('  %d/%d succeeded, median latency %s s, '
                    'wall %s s' % (row['succeeded'], row['migrations'],
                                   _round(row['latency']['median']),
                                   _round(row['wall_seconds'])))
    # A variant that could not run (no broker) fails the run too.
    return not (results.get('broker') or {}).get('error') and all(
        not row['failures'] and not row['error'] for row in results['rows'])


def _round(value):
    return None if value is None else round(value, 2)


if __name__ == '__main__':
    sys.exit(main())
