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

"""Judging from Nova's figures whether a live copy still converges."""

import datetime

from watcher_migrate import convergence
from watcher_migrate import end_prediction
from watcher_migrate import nova_gateway

GIB = 1 << 30
MIB = 1 << 20
T0 = 1800000000.25
WINDOW = 120


def record(at, remaining, processed, status='running'):
    stamp = datetime.datetime.fromtimestamp(
        at, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%f')
    return nova_gateway.MigrationView(
        id=7, status=status, memory_total_bytes=8 * GIB,
        memory_processed_bytes=processed,
        memory_remaining_bytes=remaining, updated_at=stamp)


def watched(readings, window=WINDOW, deadline=None):
    """A watch fed (second, remaining, processed) read at T0 + second."""
    predictor = end_prediction.EndPredictor()
    watch = convergence.ConvergenceWatch(window, deadline=deadline,
                                         predictor=predictor)
    for second, remaining, processed in readings:
        migration = record(T0 + second, remaining, processed)
        predictor.add(migration, T0 + second + 0.1)
        watch.add(migration, T0 + second + 0.1)
    return watch


# Remaining level at 3.1 GiB over 120 s: 40 MiB/s copied, 45 MiB/s dirtied
# (remaining 600 MiB higher at the end than at its low).
LEVEL = int(3.1 * GIB)
STUCK = [(0, LEVEL, 4 * GIB), (60, LEVEL + 300 * MIB, 4 * GIB + 2400 * MIB),
         (120, LEVEL + 600 * MIB, 4 * GIB + 4800 * MIB)]


def test_remaining_memory_level_over_the_window_is_a_stall():
    assert watched(STUCK).verdict() is not None


def test_the_stall_says_remaining_how_long_and_the_rates():
    reason = watched(STUCK).verdict().reason
    assert reason == ('remaining 3.1 GiB or more for 120 s, copying '
                      '40 MiB/s against 45 MiB/s dirtied')


def test_remaining_memory_falling_is_no_stall():
    falling = [(second, 6 * GIB - second * 10 * MIB, second * 40 * MIB)
               for second in (0, 60, 120, 180)]
    assert watched(falling).verdict() is None


def test_remaining_memory_level_for_less_than_the_window_is_no_stall():
    assert watched(STUCK[:2]).verdict() is None


def test_a_window_of_0_never_judges_a_stall():
    watch = watched(STUCK, window=0)
    assert watch.verdict() is None
    assert watch.check_at() is None


def test_a_new_low_restarts_the_window():
    readings = STUCK[:2] + [(100, LEVEL - GIB, 4 * GIB + 4000 * MIB),
                            (200, LEVEL, 4 * GIB + 8000 * MIB)]
    assert watched(readings).verdict() is None


def test_a_new_low_by_a_few_bytes_is_no_progress():
    readings = STUCK[:2] + [(120, LEVEL - 4096, 4 * GIB + 4800 * MIB)]
    assert watched(readings).verdict() is not None


def test_figures_nova_no_longer_rewrites_say_nothing_was_copied():
    frozen = record(T0, LEVEL, 4 * GIB)
    watch = convergence.ConvergenceWatch(WINDOW)
    watch.add(frozen, T0)
    watch.add(frozen, T0 + WINDOW)
    assert watch.verdict().reason == (
        "remaining 3.1 GiB or more for 120 s, Nova's figures unchanged "
        '(nothing copied)')


def test_without_processed_figures_it_says_what_remaining_did():
    readings = [(second, LEVEL, None) for second in (0, 60, 120)]
    assert watched(readings).verdict().reason == (
        'remaining 3.1 GiB or more for 120 s, Nova gives no memory '
        'processed: the rates of copying and dirtying are unknown')


# 100 MiB/s with 6 GiB left at T0 + 2: about 61 s more.
SLOW = [(0, 6 * GIB + 200 * MIB, 2 * GIB),
        (1, 6 * GIB + 100 * MIB, 2 * GIB + 100 * MIB),
        (2, 6 * GIB, 2 * GIB + 200 * MIB)]


def test_a_predicted_end_past_the_deadline_is_a_stall():
    verdict = watched(SLOW, deadline=T0 + 30).verdict()
    assert verdict.reason == (
        'remaining 6.0 GiB, falling 100 MiB/s: the copy would end in 61 s, '
        '33 s past the deadline')


def test_a_predicted_end_before_the_deadline_is_no_stall():
    assert watched(SLOW, deadline=T0 + 90).verdict() is None


def test_a_predicted_end_past_the_deadline_with_window_0_is_no_stall():
    assert watched(SLOW, window=0, deadline=T0 + 30).verdict() is None


def test_a_prediction_from_readings_of_two_passes_is_no_stall():
    # The second pass began between them: remaining rose, then fell a
    # little below where it was: the rate says nothing of the copy.
    passes = [(0, 6 * GIB, 2 * GIB), (1, 6 * GIB + GIB, 3 * GIB),
              (2, 6 * GIB - MIB, 3 * GIB + 100 * MIB)]
    assert watched(passes, deadline=T0 + 30).verdict() is None


def test_a_copy_no_longer_running_is_no_stall():
    watch = watched(STUCK)
    watch.add(record(T0 + 121, 0, 9 * GIB, status='post-migrating'),
              T0 + 121)
    assert watch.verdict() is None


def test_the_window_is_checked_a_window_after_the_low_was_read():
    watch = watched(STUCK[:1])
    assert watch.check_at() == T0 + 0.1 + WINDOW


def test_an_end_past_the_deadline_from_two_figures_awaits_their_third():
    watch = watched(SLOW[:2], deadline=T0 + 30)
    assert watch.verdict() is None
    assert watch.late_unconfirmed()


def test_a_third_figure_falling_steadily_confirms_the_late_end():
    watch = watched(SLOW, deadline=T0 + 30)
    assert not watch.late_unconfirmed()
    assert watch.verdict() is not None


def test_an_end_before_the_deadline_awaits_no_confirmation():
    assert not watched(SLOW[:2], deadline=T0 + 90).late_unconfirmed()


def test_a_window_of_0_awaits_no_confirmation_of_a_late_end():
    assert not watched(SLOW[:2], window=0,
                       deadline=T0 + 30).late_unconfirmed()
