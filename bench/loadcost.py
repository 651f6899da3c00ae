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

"""What loading an action through stevedore costs, as the applier does it.

Watcher's applier loads every action with
``stevedore.driver.DriverManager(namespace='watcher_actions', name=...)``.
Each measurement is a fresh Python process (the interpreter that runs
the benchmark, so the same site-packages as the applier) that imports
stevedore (and, in the ``after-watcher-base`` context, the action base
class every action needs, which the applier has loaded anyway), then
loads one action and reports the load's wall time, the growth of its
resident set (VmRSS and ru_maxrss) and the modules it imported; a
separate run with tracemalloc on reports the peak of Python allocations
(tracemalloc slows imports down, so it does not share a run with the
timing, and its peak varies little, so one such run is the default).
The medians of several runs are reported, after a discarded warm-up
that fills the file cache and stevedore's entry point cache.
"""

import json
import os
import statistics
import subprocess
import sys

NAMESPACE = 'watcher_actions'
ACTIONS = ('nova_migrate', 'migrate')
CONTEXTS = {
    'fresh': [],
    'after-watcher-base': ['watcher.applier.actions.base'],
}

# Run with ``python -c``: argv is namespace, name, tracemalloc (0/1),
# then the modules to import first.
PROBE = r'''
import importlib, json, resource, sys, time

def vmrss_kib():
    with open('/proc/self/status') as handle:
        for line in handle:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return None

namespace, name, trace = sys.argv[1], sys.argv[2], sys.argv[3] == '1'
import stevedore.driver
for module in sys.argv[4:]:
    importlib.import_module(module)
if trace:
    import tracemalloc
    tracemalloc.start()
modules = len(sys.modules)
rss = vmrss_kib()
maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
manager = stevedore.driver.DriverManager(namespace=namespace, name=name)
seconds = time.perf_counter() - started
result = {'seconds': seconds,
          'vmrss_kib': vmrss_kib() - rss,
          'maxrss_kib': resource.getrusage(
              resource.RUSAGE_SELF).ru_maxrss - maxrss,
          'modules': len(sys.modules) - modules,
          'driver': '%s.%s' % (manager.driver.__module__,
                               manager.driver.__name__)}
if trace:
    result['tracemalloc_peak_bytes'] = tracemalloc.get_traced_memory()[1]
print(json.dumps(result))
'''


class LoadCostError(Exception):
    """A probe process failed."""


def probe(name, preload=(), trace=False, python=sys.executable,
          namespace=NAMESPACE):
    """One fresh process loading ``name``; returns its measurement."""
    env = dict(os.environ)
    # Watcher 17's default: native threads, no eventlet monkey patching.
    env.setdefault('OS_WATCHER_DISABLE_EVENTLET_PATCHING', '1')
    command = [python, '-c', PROBE, namespace, name,
               '1' if trace else '0'] + list(preload)
    completed = subprocess.run(command, stdin=subprocess.DEVNULL,
                               capture_output=True, env=env, timeout=300)
    if completed.returncode != 0:
        raise LoadCostError('loading %s failed: %s'
                            % (name, completed.stderr.decode()[-2000:]))
    return json.loads(completed.stdout.decode().strip().splitlines()[-1])


def median_of(samples, key):
    values = [s[key] for s in samples if s.get(key) is not None]
    return statistics.median(values) if values else None


def measure(runs=3, trace_runs=1, actions=ACTIONS, contexts=None,
            python=sys.executable):
    """Medians per (action, context): ms, MiB of RSS, MiB traced, modules.

    :returns: a list of dicts, one per action and context
    """
    contexts = CONTEXTS if contexts is None else contexts
    results = []
    for context, preload in sorted(contexts.items()):
        for name in actions:
            probe(name, preload, python=python)   # warm-up, discarded
            timed = [probe(name, preload, python=python)
                     for _ in range(runs)]
            traced = [probe(name, preload, trace=True, python=python)
                      for _ in range(trace_runs)]
            results.append({
                'action': name, 'context': context, 'preload': preload,
                'driver': timed[0]['driver'], 'runs': runs,
                'trace_runs': trace_runs,
                'load_ms': median_of(timed, 'seconds') * 1000.0,
                'vmrss_mib': _scaled(median_of(timed, 'vmrss_kib'),
                                     1 / 1024.0),
                'maxrss_mib': _scaled(median_of(timed, 'maxrss_kib'),
                                      1 / 1024.0),
                'modules': median_of(timed, 'modules'),
                'tracemalloc_peak_mib': _scaled(median_of(
                    traced, 'tracemalloc_peak_bytes'), 1.0 / (1 << 20)),
            })
    return results


def _scaled(value, factor):
    return None if value is None else value * factor
