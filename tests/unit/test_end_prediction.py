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

"""Predicting the end of a live migration's copy, and looking then."""

import datetime

import pytest

from watcher_migrate import convergence
from watcher_migrate import end_prediction
from watcher_migrate import nova_gateway
from watcher_migrate import tuning

GIB = 1 << 30
T0 = 1800000000.25  # Nova writes microseconds (sqlite, MySQL fsp)


def record(at, remaining, status='running', total=2 * GIB, fraction=True):
    if not fraction:
        at = int(at)
    stamp = datetime.datetime.fromtimestamp(
        at, datetime.timezone.utc).strftime(
            '%Y-%m-%dT%H:%M:%S.%f' if fraction else '%Y-%m-%dT%H:%M:%S')
    return nova_gateway.MigrationView(
        id=7, status=status, memory_total_bytes=total,
        memory_remaining_bytes=remaining, updated_at=stamp)


def test_nova_timestamps_are_read_as_utc_with_or_without_fractions():
    assert end_prediction.parse_nova_time('2027-01-15T08:00:00.500000') == (
        1800000000.5, True)
    assert end_prediction.parse_nova_time('2027-01-15T08:00:00Z') == (
        1800000000.0, False)
    assert end_prediction.parse_nova_time('2027-01-15T08:00:00+00:00') == (
        1800000000.0, False)
    assert end_prediction.parse_nova_time(None) == (None, False)


def test_two_readings_give_the_end_of_the_copy():
    predictor = end_prediction.EndPredictor()
    predictor.add(record(T0, 2 * GIB - GIB // 10))
    predictor.add(record(T0 + 2, 2 * GIB - 3 * GIB // 10))
    # 0.2 GiB in 2 s: 1.7 GiB left takes 17 s more.
    assert abs(predictor.end() - (T0 + 2 + 17)) < 0.01


def test_two_readings_give_the_copy_rate():
    predictor = end_prediction.EndPredictor()
    predictor.add(record(T0, 2 * GIB - GIB // 10))
    assert predictor.rate() is None
    predictor.add(record(T0 + 2, 2 * GIB - 3 * GIB // 10))
    assert abs(predictor.rate() - GIB / 10) < 1


def test_readings_too_close_in_time_predict_nothing():
    predictor = end_prediction.EndPredictor()
    predictor.add(record(T0, GIB))
    predictor.add(record(T0 + 0.5, GIB - 1000))
    assert predictor.end() is None


def test_a_copy_that_makes_no_progress_predicts_nothing():
    predictor = end_prediction.EndPredictor()
    predictor.add(record(T0, GIB))
    predictor.add(record(T0 + 5, GIB))
    assert predictor.end() is None


def test_a_record_past_the_copy_ends_the_reading_of_figures():
    schedule, _ = schedule_at(T0 + 3)
    schedule.predictor.add(record(T0, GIB))
    schedule.predictor.add(record(T0 + 2, GIB // 2, status='post-migrating'))
    assert not schedule.wants_figures()


def test_a_record_without_figures_means_no_prediction_at_all():
    predictor = end_prediction.EndPredictor()
    predictor.add(record(T0, None, total=0))
    predictor.add(record(T0 + 1, None, total=0))
    assert predictor.figures_missing


def test_a_copy_just_begun_without_figures_yet_is_read_again():
    # Nova marks the record running before the driver's first save.
    predictor = end_prediction.EndPredictor()
    predictor.add(record(T0, None, total=0))
    assert not predictor.figures_missing
    assert predictor.add(record(T0 + 1, GIB))


def schedule_at(now, lag=0.3):
    clock = [now]
    schedule = end_prediction.LiveSchedule(
        0.2, 5.0, wall=lambda: clock[0],
        lag=end_prediction.FinishLag(initial=lag))
    return schedule, clock


def test_before_any_figure_the_looks_back_off_from_the_floor():
    schedule, _ = schedule_at(T0)
    delays = [schedule.next_delay(None) for _ in range(4)]
    assert delays[0] == 0.2
    assert delays == sorted(delays)
    assert schedule.wants_figures()


def test_once_the_end_is_known_the_next_look_comes_just_after_it():
    schedule, clock = schedule_at(T0 + 3)
    schedule.predictor.add(record(T0, GIB))
    schedule.predictor.add(record(T0 + 2, GIB - GIB // 10))
    # 18 s of copy left from T0 + 2, plus the learned landing lag.
    assert abs(schedule.next_delay(None) - (17 + 0.3)) < 0.01
    assert not schedule.wants_figures()


def test_only_the_look_at_the_predicted_end_is_urgent():
    schedule, clock = schedule_at(T0 + 3)
    schedule.next_delay(None)
    assert not schedule.urgent          # nothing predicted: routine
    schedule.predictor.add(record(T0, GIB))
    schedule.predictor.add(record(T0 + 2, GIB - GIB // 10))
    schedule.next_delay(None)
    assert schedule.urgent


def one_figure_schedule(now, rate=None, lag=0.3):
    """A copy with one figure at T0, GIB left; ``rate``: the prior."""
    schedule, clock = schedule_at(now, lag=lag)
    schedule.pace.rate = rate
    schedule.predictor.add(record(T0, GIB))
    return schedule, clock


FIGURES_DUE = T0 + tuning.FIGURES_CADENCE_INITIAL + tuning.FIGURES_SAVE_SLACK


# A prior so slow that the copy's next figure comes before its end.
SLOW = GIB / 20


def test_before_a_copy_landed_one_figure_is_read_when_nova_saves_the_next():
    # No prior rate: nothing to look at before libvirt's next save.
    schedule, clock = one_figure_schedule(T0 + 1)
    assert not schedule.wants_figures()
    assert schedule.next_delay(None) == pytest.approx(FIGURES_DUE - (T0 + 1))
    clock[0] = FIGURES_DUE
    assert schedule.wants_figures()


def test_after_one_figure_the_figures_are_read_when_nova_saves_the_next():
    schedule, clock = one_figure_schedule(T0 + 1, rate=SLOW)
    assert not schedule.wants_figures()
    clock[0] = FIGURES_DUE
    assert schedule.wants_figures()


def test_a_figure_due_but_not_there_yet_is_read_again_backing_off():
    schedule, clock = one_figure_schedule(FIGURES_DUE + 0.1, rate=SLOW)
    assert schedule.wants_figures()
    first = schedule.next_delay(None)
    assert first == tuning.FIGURES_RETRY
    assert schedule.next_delay(None) > first


def test_a_prior_rate_puts_one_look_at_a_short_copys_end():
    # 1 GiB left at T0, the last copies moved 0.5 GiB/s: ends at T0 + 2.
    schedule, clock = one_figure_schedule(T0 + 1, rate=GIB / 2)
    assert abs(schedule.next_delay(None) - (1 + 0.3)) < 0.01
    assert schedule.urgent
    assert not schedule.wants_figures()


def test_a_prior_end_past_without_a_landing_is_looked_at_often():
    schedule, clock = one_figure_schedule(T0 + 3, rate=GIB / 2)
    assert schedule.next_delay(None) == tuning.ENDING_INTERVAL


def test_a_prior_end_after_the_next_figure_waits_for_that_figure():
    schedule, clock = one_figure_schedule(T0 + 1, rate=SLOW)
    assert abs(schedule.next_delay(None) - (FIGURES_DUE - (T0 + 1))) < 0.01
    clock[0] = FIGURES_DUE
    assert schedule.wants_figures()


def test_a_landed_copy_teaches_the_process_its_cadence_and_rate():
    schedule, clock = schedule_at(T0 + 12)
    schedule.predictor.add(record(T0, GIB))
    schedule.predictor.add(record(T0 + 5.5, GIB // 2))
    schedule.predictor.add(record(T0 + 11.5, GIB // 4))
    schedule.landed(T0 + 12)
    assert schedule.pace.cadence == pytest.approx(5.5)
    assert schedule.pace.rate == pytest.approx((GIB - GIB // 4) / 11.5)


def test_a_copy_landed_with_one_figure_teaches_a_rate_by_its_landing():
    pace = end_prediction.CopyPace()
    predictor = end_prediction.EndPredictor()
    predictor.add(record(T0, GIB))
    # Not landed at T0 + 2, landed at T0 + 3: landed about T0 + 2.5, so
    # copied in 2.2 s given Nova's 0.3 s to land after the copy.
    pace.landed(predictor, after=T0 + 2, by=T0 + 3, lag=0.3)
    assert pace.rate == pytest.approx(GIB / 2.2)


def test_a_landing_seen_with_no_look_before_it_is_taken_when_seen():
    # Heard from Nova's events: no look brackets the landing.
    pace = end_prediction.CopyPace()
    predictor = end_prediction.EndPredictor()
    predictor.add(record(T0, GIB))
    pace.landed(predictor, by=T0 + 3, lag=0.3)
    assert pace.rate == pytest.approx(GIB / 2.7)


def test_a_one_figure_copy_s_rate_makes_the_next_look_at_its_landing():
    schedule, clock = one_figure_schedule(T0 + 1)
    clock[0] = T0 + 2
    schedule.next_delay(None)           # not landed at T0 + 2
    schedule.landed(T0 + 3)
    following, clock = one_figure_schedule(T0 + 50.5)
    following.pace = schedule.pace
    following.predictor = end_prediction.EndPredictor()
    following.predictor.add(record(T0 + 50, GIB))
    assert following.next_delay(None) == pytest.approx(2.5 - 0.5)


def test_a_copy_saving_its_figures_less_often_is_read_at_its_own_pace():
    schedule, clock = schedule_at(T0 + 12)
    schedule.pace.rate = SLOW
    schedule.predictor.add(record(T0, GIB))
    schedule.predictor.add(record(T0 + 10, GIB))    # no progress: no end
    clock[0] = T0 + 10 + tuning.FIGURES_CADENCE_INITIAL + 1
    assert not schedule.wants_figures()
    clock[0] = T0 + 20 + tuning.FIGURES_SAVE_SLACK
    assert schedule.wants_figures()


def test_once_all_memory_is_copied_the_figures_are_not_read_again():
    schedule, clock = schedule_at(T0 + 5)
    schedule.predictor.add(record(T0, GIB))
    schedule.predictor.add(record(T0 + 2, 0))
    schedule.next_delay(None)       # the end is past: Nova is finishing
    assert not schedule.wants_figures()


def looks_past_the_end(seconds):
    """(seconds past due, delay, urgent, late) of each look until then."""
    schedule, clock = schedule_at(T0 + 5)
    schedule.predictor.add(record(T0, GIB))
    schedule.predictor.add(record(T0 + 2, 0))     # the end was at T0 + 2
    looks = []
    while clock[0] < T0 + 5 + seconds:
        delay = schedule.next_delay(None)
        looks.append((clock[0] - (T0 + 5), delay, schedule.urgent,
                      schedule.late))
        clock[0] += delay
    return looks


def test_looks_for_a_landing_just_due_are_urgent():
    looks = looks_past_the_end(tuning.ENDING_URGENT)
    assert all(urgent and not late for _, _, urgent, late in looks)
    assert max(delay for _, delay, _, _ in looks) <= \
        tuning.ENDING_INTERVAL


def test_a_landing_late_past_the_urgent_looks_is_looked_for_every_second():
    looks = [look for look in looks_past_the_end(
        tuning.ENDING_LATE_WATCH)
        if look[0] >= tuning.ENDING_URGENT]
    assert len(looks) >= 50
    assert all(late and not urgent for _, _, urgent, late in looks)
    assert max(delay for _, delay, _, _ in looks) == \
        tuning.ENDING_LATE_CAP


def test_looks_for_a_landing_very_late_are_routine_and_back_off():
    looks = [look for look in looks_past_the_end(
        tuning.ENDING_LATE_WATCH + 60)
        if look[0] >= tuning.ENDING_LATE_WATCH]
    assert not any(urgent or late for _, _, urgent, late in looks)
    delays = [delay for _, delay, _, _ in looks]
    assert delays == sorted(delays) and delays[-1] == 5.0


def test_no_look_past_the_end_waits_longer_than_poll_interval_max():
    clock = [T0 + 5]
    schedule = end_prediction.LiveSchedule(0.2, 0.5, wall=lambda: clock[0])
    schedule.predictor.add(record(T0, GIB))
    schedule.predictor.add(record(T0 + 2, 0))
    delays = []
    while clock[0] < T0 + 5 + tuning.ENDING_LATE_WATCH + 30:
        delays.append(schedule.next_delay(None))
        clock[0] += delays[-1]
    assert max(delays) == 0.5


def test_a_far_end_is_not_waited_for_without_a_look_in_between():
    schedule, _ = schedule_at(T0 + 2)
    schedule.predictor.add(record(T0, 100 * GIB))
    schedule.predictor.add(record(T0 + 2, 100 * GIB - GIB // 10))
    assert schedule.next_delay(None) == tuning.MAX_CAPS * 5.0


def half_copied():
    """Half copied in 2 s: the end is due at T0 + 4, looked at 0.3 s later."""
    schedule, clock = schedule_at(T0 + 2)
    schedule.predictor.add(record(T0, GIB))
    schedule.predictor.add(record(T0 + 2, GIB - GIB // 2))
    return schedule, clock


LOOK_AT_END = T0 + 4.3


# A feed's news may wake the look at the end a little early.
@pytest.mark.parametrize('early', [0.0, 0.1])
def test_a_look_at_the_end_that_comes_too_early_learns_the_lag(early):
    schedule, clock = half_copied()
    schedule.next_delay(None)
    clock[0] = LOOK_AT_END - early
    schedule.next_delay(None)
    assert schedule.lag.seconds > 0.3


def test_just_past_the_end_the_server_decides_not_the_figures():
    schedule, clock = half_copied()
    clock[0] += schedule.next_delay(None)
    wanted = []
    while clock[0] < LOOK_AT_END + tuning.FIGURES_AGAIN_AFTER:
        clock[0] += schedule.next_delay(None)
        wanted.append((clock[0], schedule.wants_figures()))
    assert len(wanted) > 2
    assert not any(wants for at, wants in wanted
                   if at < LOOK_AT_END + tuning.FIGURES_AGAIN_AFTER)


def test_a_landing_later_than_nova_usually_takes_reads_the_figures_again():
    schedule, clock = half_copied()
    clock[0] += schedule.next_delay(None)
    while not schedule.wants_figures() and clock[0] < T0 + 10:
        clock[0] += schedule.next_delay(None)
    assert schedule.wants_figures()
    assert clock[0] >= LOOK_AT_END + tuning.FIGURES_AGAIN_AFTER


def test_a_landing_late_past_its_end_reads_the_figures_once_per_cadence():
    # Nova saves no figures at the end of a copy: the last stays as it was
    # however often it is read while Nova is slow to land the server.
    schedule, clock = half_copied()
    figure_reads = []
    while clock[0] < LOOK_AT_END + 20:
        if schedule.wants_figures():
            figure_reads.append(clock[0])
            schedule.predictor.add(record(T0 + 2, GIB - GIB // 2),
                                   clock[0])
        clock[0] += schedule.next_delay(None)
    gaps = [b - a for a, b in zip(figure_reads, figure_reads[1:])]
    assert len(figure_reads) >= 2
    assert min(gaps) >= 2.0         # the copy's own spacing of figures


def test_a_look_at_the_end_that_finds_the_server_landed_shortens_the_lag():
    schedule, clock = half_copied()
    schedule.next_delay(None)
    schedule.landed(LOOK_AT_END)
    assert schedule.lag.seconds < 0.3


def test_coarse_timestamps_are_approached_not_trusted():
    schedule, _ = schedule_at(int(T0) + 2)
    schedule.predictor.add(record(T0, GIB, fraction=False))
    schedule.predictor.add(record(T0 + 2, GIB - GIB // 10,
                                  fraction=False))
    assert not schedule.predictor.precise
    # 18 s left: look 10 % of it early, then refine.
    assert abs(schedule.next_delay(None) - 18 * 0.9) < 0.01


def test_a_copy_not_begun_moves_the_start_lag_past_that_time():
    lag = end_prediction.StartLag()
    lag.not_begun(1.2)
    assert lag.seconds > 1.2
    lag.not_begun(0.4)
    assert lag.seconds > 1.2


def test_a_copy_found_begun_lets_the_start_lag_shrink():
    lag = end_prediction.StartLag()
    lag.not_begun(1.2)
    learned = lag.seconds
    lag.begun()
    assert 0 < lag.seconds < learned


def test_the_start_lag_grows_no_further_than_its_bound():
    lag = end_prediction.StartLag(high=3.0)
    lag.not_begun(60.0)
    assert lag.seconds == 3.0


def watched_schedule_at(now, window, deadline=None):
    clock = [now]
    predictor = end_prediction.EndPredictor()
    watch = convergence.ConvergenceWatch(window, deadline=deadline,
                                         predictor=predictor)
    schedule = end_prediction.LiveSchedule(
        0.2, 5.0, wall=lambda: clock[0], predictor=predictor,
        lag=end_prediction.FinishLag(initial=0.3), watch=watch)
    return schedule, clock


def read(schedule, migration, at):
    schedule.predictor.add(migration, at)
    schedule.watch.add(migration, at)


def read_a_long_copy(schedule):
    """Two readings at T0 and T0 + 2; the copy ends 180 s later."""
    read(schedule, record(T0, 100 * GIB), T0)
    # A fall of more than STALL_MIN_FALL: a new low.
    read(schedule, record(T0 + 2, 100 * GIB - 11 * GIB // 10), T0 + 2)


def test_a_copy_ending_after_its_stall_window_is_read_at_the_window_end():
    schedule, clock = watched_schedule_at(T0 + 2, window=10)
    read_a_long_copy(schedule)
    # The low was read at T0 + 2: the window ends at T0 + 12.
    assert abs(schedule.next_delay(None) - 10) < 0.01
    clock[0] = T0 + 12
    assert schedule.stall_check_due() and schedule.wants_figures()


def test_a_copy_ending_within_its_stall_window_is_looked_at_as_before():
    plain, _ = schedule_at(T0 + 3)
    schedule, _ = watched_schedule_at(T0 + 3, window=120)
    for each in (plain, schedule):
        each.predictor.add(record(T0, GIB))
        each.predictor.add(record(T0 + 2, GIB - GIB // 10))
    read(schedule, record(T0 + 2, GIB - GIB // 10), T0 + 2)
    assert schedule.next_delay(None) == plain.next_delay(None)
    assert not schedule.wants_figures()


def test_a_long_copy_is_read_at_a_window_end_a_multiple_of_its_cadence():
    # 120 s is four of the 30 s looks at a long copy: the fourth reads
    # the figures, and no look is added.
    schedule, clock = watched_schedule_at(T0 + 2, window=120)
    read_a_long_copy(schedule)
    delays = []
    for _ in range(4):
        delays.append(schedule.next_delay(None))
        clock[0] += delays[-1]
    assert delays == [tuning.MAX_CAPS * 5.0] * 4
    assert schedule.stall_check_due() and schedule.wants_figures()


def test_a_window_of_0_adds_no_look_at_a_long_copy():
    schedule, clock = watched_schedule_at(T0 + 2, window=0)
    read_a_long_copy(schedule)
    delays = []
    for _ in range(6):
        delays.append(schedule.next_delay(None))
        clock[0] += delays[-1]
        assert not schedule.wants_figures()
    assert delays == [tuning.MAX_CAPS * 5.0] * 6


def read_a_copy_too_slow_for_its_deadline():
    """Figures a second apart at T0 and T0 + 1: the copy ends 100 s on."""
    schedule, clock = watched_schedule_at(T0 + 1.1, window=120,
                                          deadline=T0 + 30)
    read(schedule, record(T0, 101 * GIB // 10), T0 + 0.1)
    read(schedule, record(T0 + 1, 100 * GIB // 10), T0 + 1.1)
    return schedule, clock


def test_an_end_past_the_deadline_reads_the_next_figure_when_nova_saves_it():
    schedule, clock = read_a_copy_too_slow_for_its_deadline()
    # Nova's next figure: a second after the last, saved up to 0.5 s late;
    # not the stall window's end, 120 s away.
    due = T0 + 1 + 1 + tuning.FIGURES_SAVE_SLACK
    assert abs(schedule.next_delay(None) - (due - clock[0])) < 0.01
    assert not schedule.wants_figures()
    clock[0] = due
    assert schedule.wants_figures()


def test_a_confirming_read_that_found_no_newer_figure_backs_off():
    schedule, clock = read_a_copy_too_slow_for_its_deadline()
    due = T0 + 2 + tuning.FIGURES_SAVE_SLACK
    delays = []
    for late in (0.0, 0.2, 0.6):
        clock[0] = due + late
        # Read, and the figure is the one already seen.
        read(schedule, record(T0 + 1, 100 * GIB // 10), clock[0])
        delays.append(round(schedule.next_delay(None), 2))
    # From the floor, doubling with the time past due, up to the cadence.
    assert delays == [0.2, 0.2, 0.6]
