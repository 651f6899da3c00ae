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

"""The one waiting primitive: poll until a verdict, a deadline or a cancel.

Every wait of the action (migration done, resize confirmed, abort settled,
moved back) is ``wait_for`` with a different ``evaluate`` function, the way
openstacksdk's ``wait_for_status`` serves every resource. The interval
between polls comes from a ``PollSchedule``: it starts at a floor so a short
migration is noticed at once, backs off towards a cap while nothing
changes, and drops back to the floor when the observed phase changes. (A
live migration's predicted end is end_prediction's business.)
"""

import time

from watcher_migrate import tuning


class WaitTimeout(Exception):
    """The deadline passed without a verdict; ``last`` is the last look."""

    def __init__(self, what, last, waited):
        super().__init__('%s: no answer after %.1f s' % (what, waited))
        self.what = what
        self.last = last
        self.waited = waited


class WaitCancelled(Exception):
    """The cancel event was set while waiting; ``last`` is the last look."""

    def __init__(self, what, last):
        super().__init__('%s: cancelled' % what)
        self.what = what
        self.last = last


class PollSchedule(object):
    """Intervals between polls: floor, exponential backoff, cap.

    :param floor: first (and shortest) interval, seconds
    :param cap: longest interval, seconds
    :param factor: growth of the interval while nothing changes
    :param phase: ``f(observation)`` -> a value whose change resets the
        interval to the floor (e.g. the migration status)
    """

    def __init__(self, floor, cap, factor=tuning.POLL_BACKOFF_FACTOR,
                 phase=None):
        self.floor = floor
        self.cap = max(cap, floor)
        self.factor = factor
        self._phase = phase
        self._last_phase = object()
        self._interval = None

    def next_delay(self, observation):
        phase = self._phase(observation) if self._phase else None
        return self.backoff(phase, self.floor)

    def backoff(self, phase, start):
        """The next interval: ``start`` when ``phase`` changed, else more.

        For schedules whose phases begin at different intervals (a live
        migration's, in end_prediction); ``next_delay`` starts every phase
        at the floor.
        """
        if self._interval is None or phase != self._last_phase:
            self._interval = start
        else:
            self._interval = min(self.cap, self._interval * self.factor)
        self._last_phase = phase
        return self._interval

    def reset(self):
        """Start again from the first interval at the next delay."""
        self._interval = None


def wait_for(poll, evaluate, schedule, deadline=None, cancel=None,
             what='wait', clock=time.monotonic, on_poll=None, wake=None,
             first_delay=0.0):
    """Poll until ``evaluate`` gives a verdict.

    :param poll: ``f()`` -> an observation (may raise: errors propagate)
    :param evaluate: ``f(observation)`` -> a verdict, or None to go on
    :param schedule: a ``PollSchedule``
    :param deadline: a ``clock()`` value after which ``WaitTimeout`` is
        raised, or None to wait for ever (callers always give one)
    :param cancel: a ``threading.Event``; once set, ``WaitCancelled``
    :param on_poll: ``f(observation)`` called after each poll (progress)
    :param wake: a ``threading.Event`` that ends a sleep early (news of
        what is polled, or a cancel): the next poll comes at once
    :param first_delay: seconds before the first poll (nothing to see yet)
    :returns: the verdict
    """
    start = clock()
    if first_delay > 0:
        if wake is not None:
            wake.wait(first_delay)
            wake.clear()
        elif cancel is not None:
            cancel.wait(first_delay)
        else:
            time.sleep(first_delay)
    while True:
        observation = poll()
        if on_poll is not None:
            on_poll(observation)
        verdict = evaluate(observation)
        if verdict is not None:
            return verdict
        if cancel is not None and cancel.is_set():
            raise WaitCancelled(what, observation)
        now = clock()
        if deadline is not None and now >= deadline:
            raise WaitTimeout(what, observation, now - start)
        delay = schedule.next_delay(observation)
        if deadline is not None:
            delay = min(delay, max(0.0, deadline - now))
        if wake is not None:
            wake.wait(delay)
            wake.clear()
            if cancel is not None and cancel.is_set():
                raise WaitCancelled(what, observation)
        elif cancel is not None:
            if cancel.wait(delay):
                raise WaitCancelled(what, observation)
        else:
            time.sleep(delay)
