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

"""Random faults from a seed, for many actions at once.

``draw`` picks, with a ``random.Random``, what one action does (live or
cold, to which host) and what goes wrong: nothing, a compute API fault at
one moment (through the proxy), or a fault inside Nova (fake driver, or a
timeout the action must handle). ``prepare`` sets it up, ``run`` runs the
action and checks the invariants, ``Tally`` adds up what happened.
"""

import collections
import dataclasses
import re
import threading

from tests.faults import fault_proxy as fp
from tests.faults import harness
from tests.faults import invariants

LIVE, COLD = harness.LIVE, harness.COLD

# Request timeout of the shared session (the plugin's default), and how
# long a TIMEOUT holds. Not shorter: a saturated embedded Nova can take
# many seconds to answer a move, and a move that times out because Nova
# is slow is the one fault these runs must not cause by accident (the
# plugin may send it twice: see test_api_faults).
CLIENT_TIMEOUT = 60
HOLD = CLIENT_TIMEOUT + 1

# Compute API faults: name -> (kind, rule options, writes only).
API_FAULTS = {
    'refused': (fp.REFUSED, {'seconds': 1.5}, False),
    'reset-before-forwarding': (fp.RESET, {}, False),
    'reset-after-forwarding': (fp.RESET, {'forward': True}, False),
    'timeout-after-forwarding': (fp.TIMEOUT,
                                 {'seconds': HOLD, 'forward': True}, False),
    'slow-answer': (fp.SLOW, {'seconds': 1.0}, False),
    '500-not-forwarded': (fp.HTTP_ERROR, {'status': 500}, False),
    '502-after-forwarding': (fp.HTTP_ERROR,
                             {'status': 502, 'forward': True}, False),
    '503-not-forwarded': (fp.HTTP_ERROR, {'status': 503}, False),
    '409-conflict': (fp.CONFLICT, {}, True),
    '401-once': (fp.UNAUTHORIZED, {}, False),
    'truncated-answer': (fp.TRUNCATED, {}, False),
    'not-json-answer': (fp.NOT_JSON, {}, False),
}

# Faults inside Nova: name -> (migration type, driver behaviour, action
# options, cause a failure must name).
NOVA_FAULTS = {
    'live-rolled-back': (LIVE, {'live_fail': 'rollback'}, {},
                         r"migration \d+ is 'failed'"),
    # The server goes ERROR before Nova writes 'error' on the migration:
    # either names the cause.
    'live-error': (LIVE, {'live_fail': 'raise'}, {},
                   r"migration \d+ is 'error'|server is ERROR"),
    # A queued migration's abort can be lost in Nova (an abort between
    # the 'queued' status and the queueing pops nothing): the plugin then
    # fails with "abort ... requested but Nova did not settle", and its
    # post_condition stops the migration. Either message names the cause.
    'live-timeout': (LIVE, {'live_duration': 20}, {'live_timeout': 5},
                     r'did not finish within its \d+ s \w+ and was aborted|'
                     r'abort of the live migration requested'),
    'cold-error': (COLD, {'cold_fail': True}, {},
                   r"migration \d+ is 'error'|Nova fault: InjectedFailure"),
    'cold-rolled-back': (COLD, {'cold_fail': 'rollback'}, {},
                         r"migration \d+ is 'error'"),
    'confirm-error': (COLD, {'confirm_fail': True}, {},
                      r'confirming the cold migration .* failed'),
}

MOMENTS = {LIVE: (harness.BEFORE, harness.MOVE, harness.WAIT,
                  harness.ABORT),
           COLD: (harness.BEFORE, harness.MOVE, harness.WAIT,
                  harness.CONFIRM)}
WRITE_MOMENTS = (harness.MOVE, harness.CONFIRM, harness.ABORT)

# Short: the embedded Nova runs one live migration at a time in all.
BASE_DRIVER = {'live_duration': 0.5, 'cold_duration': 0.5}
# Options of every action: sparse polling (thirty actions polling every
# 2 s would take all the ~13 requests/s the embedded Nova serves, and
# starve its own work), budgets for a busy Nova (a live migration may
# wait queued behind all the others).
BASE_OPTIONS = {'poll_interval_min': 2.0, 'poll_interval_max': 8.0,
                'settle_timeout': 45, 'api_retry_timeout': 60,
                'live_timeout': 300, 'cold_timeout': 300}


@dataclasses.dataclass
class Plan:
    """What one action does and what goes wrong."""

    server: str
    source: str
    migration_type: str
    destination: str = None
    fault: str = 'none'
    moment: str = None
    rule: fp.Rule = None
    driver: dict = dataclasses.field(default_factory=dict)
    options: dict = dataclasses.field(default_factory=dict)
    cause: str = None

    @property
    def label(self):
        if self.moment:
            return '%s %s' % (self.fault, self.moment)
        return self.fault


def draw(rng, server, source, hosts=harness.HOSTS, without=(),
         live_share=0.5):
    """A random plan for one action on ``server`` (on ``source``).

    :param without: fault kinds (of fault_proxy) not to draw
    :param live_share: the part of live migrations among the actions
        whose fault does not decide the migration type
    """
    others = [h for h in hosts if h != source]
    destination = None if rng.random() < 0.15 else rng.choice(others)
    roll = rng.random()
    if roll < 0.2:
        migration_type = LIVE if rng.random() < live_share else COLD
        return Plan(server, source, migration_type, destination,
                    driver=dict(BASE_DRIVER))
    if roll < 0.4:
        fault = rng.choice(sorted(NOVA_FAULTS))
        migration_type, driver, options, cause = NOVA_FAULTS[fault]
        return Plan(server, source, migration_type, destination, fault,
                    driver=dict(BASE_DRIVER, **driver),
                    options=dict(options), cause=cause)
    migration_type = LIVE if rng.random() < live_share else COLD
    moment = rng.choice(MOMENTS[migration_type])
    names = [name for name, (kind, _opts, writes) in sorted(
        API_FAULTS.items())
        if (moment in WRITE_MOMENTS or not writes) and kind not in without]
    fault = rng.choice(names)
    kind, rule_options, _writes = API_FAULTS[fault]
    plan = Plan(server, source, migration_type, destination, fault, moment,
                driver=dict(BASE_DRIVER))
    plan.rule = harness.rule_at(moment, kind, server, migration_type,
                                **rule_options)
    if moment == harness.ABORT:
        plan.driver['live_duration'] = 20
        plan.options['live_timeout'] = 5
    if moment == harness.WAIT:
        plan.driver['live_duration'] = 2
        if kind not in (fp.REFUSED, fp.UNAUTHORIZED, fp.TIMEOUT):
            # Repeated: the wait must go on, not just retry once.
            plan.rule.times = 2
    return plan


def prepare(cloud, proxy, plan):
    cloud.set_driver(instance=plan.server,
                     **dict(harness.DRIVER_DEFAULTS, **plan.driver))
    if plan.rule is not None:
        proxy.add(plan.rule)


def options(cloud, proxy, plan=None):
    """The action's options (a plan's own, if given) through the proxy."""
    values = dict(BASE_OPTIONS, **(plan.options if plan else {}))
    return harness.config(cloud, through=proxy, timeout=CLIENT_TIMEOUT,
                          **values)


def run(cloud, proxy, plan, osc=None):
    """Run the planned action; returns (Run, violations)."""
    try:
        status = cloud.server(plan.server)['status']
        values = options(cloud, proxy, plan)
        migrate = harness.new_action(values, plan.server, plan.source,
                                     plan.destination, plan.migration_type,
                                     osc=osc)
        result = harness.run_action(
            migrate, status_before=status,
            auto_confirm=values.get('auto_confirm', True))
        return result, invariants.violations(cloud, result,
                                             cause=plan.cause)
    except Exception as exc:
        # The action's own errors end up in the Run: this is the test's
        # reading of Nova failing, and the plan says which case it was.
        raise AssertionError('%s (%s %s): the test harness failed: %s' % (
            plan.server, plan.migration_type, plan.label, exc)) from exc


def describe_violations(plan, result, found):
    """One line per violation, with the plan and the action's message."""
    return ['%s (%s %s, %s): %s [%s]' % (
        plan.server, plan.migration_type, plan.label, result.outcome,
        problem, result.message) for problem in found]


class Tally(object):
    """Counts of a randomized run, printable as a table."""

    def __init__(self):
        self._lock = threading.Lock()
        self.migrations = collections.Counter()
        self.faults = collections.Counter()
        self.outcomes = collections.Counter()
        # (what went wrong, the failure's message in general terms)
        self.failures = collections.Counter()
        self.violations = []

    def add(self, plan, result, found):
        with self._lock:
            self.migrations[plan.migration_type] += 1
            if plan.fault in NOVA_FAULTS:
                self.faults['nova: %s' % plan.fault] += 1
            elif plan.rule is None:
                self.faults['none'] += 1
            self.outcomes[result.outcome] += 1
            if result.outcome == 'failed':
                self.failures[(plan.label, message_shape(result.message))] \
                    += 1
            self.violations += describe_violations(plan, result, found)

    def table(self, injected, seconds):
        """Lines of the report; ``injected``: the proxy's Counter."""
        rows = [('migrations', 'total', sum(self.migrations.values()))]
        rows += [('migrations', kind, count)
                 for kind, count in sorted(self.migrations.items())]
        rows += [('faults injected', 'api: %s' % kind, count)
                 for kind, count in sorted(injected.items())]
        rows += [('faults injected', kind, count)
                 for kind, count in sorted(self.faults.items())
                 if kind != 'none']
        rows.append(('actions without a fault', '-', self.faults['none']))
        rows += [('outcomes', kind, count)
                 for kind, count in sorted(self.outcomes.items())]
        rows.append(('invariant violations', 'total', len(self.violations)))
        rows.append(('run time', 'seconds', int(seconds)))
        width = max(len(r[0]) for r in rows)
        inner = max(len(r[1]) for r in rows)
        lines = ['%-*s  %-*s  %6s' % (width, 'what', inner, 'kind',
                                      'count'),
                 '%s  %s  %s' % ('-' * width, '-' * inner, '-' * 6)]
        lines += ['%-*s  %-*s  %6d' % (width, a, inner, b, c)
                  for a, b, c in rows]
        lines += ['failed %3d x %s: %s' % (count, label, shape)
                  for (label, shape), count in sorted(
                      self.failures.items(), key=lambda i: (-i[1], i[0]))]
        lines += ['violation: %s' % v for v in self.violations]
        return lines


def message_shape(message, longest=200):
    """A failure message without its servers, hosts and numbers.

    Failures of one kind then count as one line of the report.
    """
    shape = re.sub(r'[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}', 'UUID',
                   message)
    shape = re.sub(r'\bhost\d+\b', 'HOST', shape)
    shape = re.sub(r'\d+(\.\d+)?', 'N', shape)
    return shape if len(shape) <= longest else shape[:longest] + '...'
