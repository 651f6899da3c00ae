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

"""The fake driver's settings and the cadence of a live copy's figures."""

import pytest

from embedded_nova import driver_behaviour

INTERVAL = 'live_migration_monitor_interval'


class Clock(object):
    """A clock that only moves when the copy waits."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Wakeup(object):
    """The control block's event: waits pass on the clock, or wake it.

    :param woken_after: seconds of copy after which a wait is woken (an
        abort or force-complete), None for never
    """

    def __init__(self, clock, woken_after=None):
        self.clock = clock
        self.start = clock.now
        self.woken_after = woken_after
        self.waits = []

    def wait(self, timeout):
        self.waits.append(timeout)
        if self.woken_after is not None and (
                timeout is None or
                self.clock.now + timeout - self.start >= self.woken_after):
            self.clock.now = self.start + self.woken_after
            return True
        if timeout is None:
            raise AssertionError('a wait without end nobody wakes')
        self.clock.now += timeout
        return False


class Control(object):
    def __init__(self, wakeup):
        self.wakeup = wakeup


def copy(woken_after=None, **fields):
    """Run a copy on a fake clock: (completed, [(second, fraction)])."""
    behaviour = dict(driver_behaviour.DEFAULT_BEHAVIOUR, **fields)
    clock = Clock()
    saves = []
    completed = driver_behaviour.run_live_copy(
        behaviour, Control(Wakeup(clock, woken_after)),
        lambda fraction: saves.append((clock.now - 100.0, fraction)),
        clock=clock)
    return completed, saves


# -- settings ----------------------------------------------------------------

def test_figures_are_saved_every_5_s_by_default_as_libvirt_does():
    registry = driver_behaviour.DriverRegistry()
    assert registry.behaviour('any-server')[INTERVAL] == 5.0
    assert registry.settings()['default'][INTERVAL] == 5.0


def test_an_interval_of_0_is_accepted():
    registry = driver_behaviour.DriverRegistry()
    registry.configure('server', **{INTERVAL: 0})
    assert registry.behaviour('server')[INTERVAL] == 0


def test_a_negative_interval_is_refused_saying_what_it_means():
    registry = driver_behaviour.DriverRegistry()
    with pytest.raises(ValueError) as caught:
        registry.configure('server', **{INTERVAL: -1})
    assert str(caught.value) == (
        'live_migration_monitor_interval must be a number >= 0 (seconds '
        'between two saves of the figures; 0: save none), not -1')
    assert registry.behaviour('server')[INTERVAL] == 5.0


@pytest.mark.parametrize('value', ['5', True, None])
def test_an_interval_that_is_no_number_is_refused(value):
    with pytest.raises(ValueError, match='must be a number >= 0'):
        driver_behaviour.DriverRegistry().configure(**{INTERVAL: value})


def test_the_old_progress_interval_is_refused_naming_its_new_name():
    with pytest.raises(ValueError, match='progress_interval is now '
                       'live_migration_monitor_interval'):
        driver_behaviour.DriverRegistry().configure(progress_interval=1)


# -- the lengths of the next moves -----------------------------------------

def test_each_move_takes_the_next_of_its_server_s_durations():
    registry = driver_behaviour.DriverRegistry()
    registry.configure('server', live_duration=20, next_durations=[21.5, 23])
    taken = [registry.take_behaviour('server', 'live')['live_duration']
             for _ in range(3)]
    assert taken == [21.5, 23.0, 20]


def test_a_cold_move_takes_its_length_from_the_same_durations():
    registry = driver_behaviour.DriverRegistry()
    registry.configure('server', live_duration=20, next_durations=[4.5])
    behaviour = registry.take_behaviour('server', 'cold')
    assert (behaviour['cold_duration'], behaviour['live_duration']) == (
        4.5, 20)
    assert registry.behaviour('server')['next_durations'] == []


def test_setting_durations_again_replaces_those_left():
    registry = driver_behaviour.DriverRegistry()
    registry.configure('server', next_durations=[1, 2])
    registry.configure('server', next_durations=[7])
    assert registry.take_behaviour('server', 'live')['live_duration'] == 7


def test_durations_for_every_server_are_refused():
    with pytest.raises(ValueError, match='next_durations are per instance'):
        driver_behaviour.DriverRegistry().configure(next_durations=[3])


@pytest.mark.parametrize('value', [3, [-1], ['3'], [True]])
def test_durations_that_are_no_list_of_seconds_are_refused(value):
    with pytest.raises(ValueError, match='next_durations must be a list'):
        driver_behaviour.DriverRegistry().configure(
            'server', next_durations=value)


# -- the copy's figures ------------------------------------------------------

def test_interval_0_saves_no_figures_at_all():
    assert copy(live_duration=3, **{INTERVAL: 0}) == (True, [])


def test_figures_are_saved_as_the_copy_begins_then_every_interval():
    assert copy(live_duration=1, **{INTERVAL: 0.25}) == (
        True, [(0.0, 0.0), (0.25, 0.25), (0.5, 0.5), (0.75, 0.75)])


def test_no_figures_are_saved_on_completion():
    completed, saves = copy(live_duration=10, **{INTERVAL: 5})
    assert completed
    assert saves == [(0.0, 0.0), (5.0, 0.5)]


def test_the_default_cadence_saves_a_12_s_copy_three_times():
    completed, saves = copy(live_duration=12)
    assert [second for second, _ in saves] == [0.0, 5.0, 10.0]


def test_an_instant_copy_saves_no_figures():
    assert copy(live_duration=0) == (True, [])


def test_a_stalled_copy_saves_its_stalled_figures_until_woken():
    completed, saves = copy(woken_after=13, live_duration=2,
                            live_stall_at=0.5, **{INTERVAL: 5})
    assert not completed
    assert saves == [(0.0, 0.0), (5.0, 0.5), (10.0, 0.5)]


def test_a_stalled_copy_without_figures_waits_until_woken():
    assert copy(woken_after=30, live_duration=2, live_stall_at=0.5,
                **{INTERVAL: 0}) == (False, [])


def dirty_copy(woken_after, **fields):
    """A copy that dirties as fast as it copies: (completed, saves).

    Each save is (second, processed fraction, remaining fraction).
    """
    behaviour = dict(driver_behaviour.DEFAULT_BEHAVIOUR, **fields)
    clock = Clock()
    saves = []
    completed = driver_behaviour.run_live_copy(
        behaviour, Control(Wakeup(clock, woken_after)),
        lambda *figures: saves.append((clock.now - 100.0,) + figures),
        clock=clock)
    return completed, saves


def test_a_dirtying_copy_runs_until_woken():
    completed, _ = dirty_copy(woken_after=60, live_duration=2,
                              live_dirty_at=0.5, **{INTERVAL: 1})
    assert not completed


def test_a_dirtying_copy_keeps_processing_memory():
    _, saves = dirty_copy(woken_after=20, live_duration=4,
                          live_dirty_at=0.5, **{INTERVAL: 1})
    processed = [save[1] for save in saves]
    assert processed == sorted(processed) and processed[-1] > 4


def test_a_dirtying_copy_never_brings_remaining_memory_to_a_new_low():
    _, saves = dirty_copy(woken_after=40, live_duration=4,
                          live_dirty_at=0.5, **{INTERVAL: 1})
    remaining = [save[2] for save in saves if save[1] >= 0.5]
    first_pass = remaining[:driver_behaviour.DIRTY_PASS_SAVES]
    assert len(remaining) > 3 * len(first_pass)
    assert min(remaining) == min(first_pass)
    assert max(remaining) == 0.5


def test_a_dirtying_copy_copies_as_fast_before_and_after_it_sticks():
    _, saves = dirty_copy(woken_after=20, live_duration=4,
                          live_dirty_at=0.5, **{INTERVAL: 1})
    steps = {round(b[1] - a[1], 9) for a, b in zip(saves, saves[1:])}
    assert steps == {0.25}


def test_a_copy_cannot_both_freeze_and_dirty():
    registry = driver_behaviour.DriverRegistry()
    registry.configure('server', live_stall_at=0.5)
    with pytest.raises(ValueError, match='set one'):
        registry.configure('server', live_dirty_at=0.5)


@pytest.mark.parametrize('value', [1, -0.1, True, 'half'])
def test_a_dirtying_fraction_outside_0_to_1_is_refused(value):
    with pytest.raises(ValueError, match='live_dirty_at must be None or'):
        driver_behaviour.DriverRegistry().configure(live_dirty_at=value)


def test_a_copy_woken_before_its_end_does_not_complete():
    completed, saves = copy(woken_after=6, live_duration=60)
    assert not completed
    assert saves == [(0.0, 0.0), (5.0, 5.0 / 60)]
