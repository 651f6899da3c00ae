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

"""The waiting primitive: verdicts, deadlines, cancels and the schedule."""

import threading

import pytest

from watcher_migrate import waiting


class FakeClock(object):
    """A clock that advances only when the code under test sleeps."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class ClockedEvent(threading.Event):
    """An Event whose wait() advances the fake clock instead of blocking."""

    def __init__(self, clock, set_after=None):
        super().__init__()
        self.clock = clock
        self.set_after = set_after

    def wait(self, timeout=None):
        self.clock.sleep(timeout)
        if self.set_after is not None and self.clock.now >= self.set_after:
            self.set()
        return self.is_set()


def test_schedule_starts_at_the_floor_and_backs_off_to_the_cap():
    schedule = waiting.PollSchedule(0.2, 1.0, factor=2.0)
    delays = [schedule.next_delay(None) for _ in range(6)]
    assert delays == [0.2, 0.4, 0.8, 1.0, 1.0, 1.0]


def test_schedule_returns_to_the_floor_when_the_phase_changes():
    schedule = waiting.PollSchedule(0.2, 5.0, factor=2.0,
                                    phase=lambda look: look)
    assert [schedule.next_delay('queued') for _ in range(3)] == [
        0.2, 0.4, 0.8]
    assert schedule.next_delay('running') == 0.2


def test_wait_for_returns_the_first_verdict():
    looks = iter(['queued', 'running', 'completed', 'never read'])
    clock = FakeClock()
    verdict = waiting.wait_for(
        lambda: next(looks), lambda s: s if s == 'completed' else None,
        waiting.PollSchedule(0.2, 1.0), deadline=100,
        cancel=ClockedEvent(clock), clock=clock)
    assert verdict == 'completed'
    assert len(clock.sleeps) == 2


def test_wait_for_raises_timeout_with_the_last_observation():
    clock = FakeClock()
    with pytest.raises(waiting.WaitTimeout) as error:
        waiting.wait_for(lambda: 'running', lambda s: None,
                         waiting.PollSchedule(1.0, 1.0), deadline=3.0,
                         cancel=ClockedEvent(clock), clock=clock,
                         what='live migration')
    assert error.value.last == 'running'
    assert error.value.waited == pytest.approx(3.0)
    assert 'live migration' in str(error.value)


def test_wait_for_never_sleeps_past_the_deadline():
    clock = FakeClock()
    with pytest.raises(waiting.WaitTimeout):
        waiting.wait_for(lambda: None, lambda s: None,
                         waiting.PollSchedule(5.0, 5.0), deadline=2.0,
                         cancel=ClockedEvent(clock), clock=clock)
    assert clock.sleeps == [2.0]


def test_wait_for_stops_when_cancelled_during_a_sleep():
    clock = FakeClock()
    with pytest.raises(waiting.WaitCancelled) as error:
        waiting.wait_for(lambda: 'running', lambda s: None,
                         waiting.PollSchedule(1.0, 1.0), deadline=100,
                         cancel=ClockedEvent(clock, set_after=2.0),
                         clock=clock)
    assert error.value.last == 'running'
    assert clock.now == pytest.approx(2.0)


def test_a_verdict_wins_over_a_cancel_seen_in_the_same_poll():
    clock = FakeClock()
    cancel = ClockedEvent(clock)
    cancel.set()
    verdict = waiting.wait_for(lambda: 'done', lambda s: s,
                               waiting.PollSchedule(1.0, 1.0),
                               deadline=10, cancel=cancel, clock=clock)
    assert verdict == 'done'


def test_wait_for_reports_each_observation():
    seen = []
    looks = iter([1, 2, 3])
    clock = FakeClock()
    waiting.wait_for(lambda: next(looks), lambda s: s if s == 3 else None,
                     waiting.PollSchedule(0.1, 0.1), deadline=10,
                     cancel=ClockedEvent(clock), clock=clock,
                     on_poll=seen.append)
    assert seen == [1, 2, 3]
