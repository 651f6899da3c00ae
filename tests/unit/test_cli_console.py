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

"""What the tool shows: progress text, live display, log lines, tables."""

import dataclasses
import io

import pytest

from watcher_migrate import console
from watcher_migrate import plan
from watcher_migrate import plan_runner
from watcher_migrate import tracking
from watcher_migrate import tuning

MIB = 1 << 20


class Clock(object):
    def __init__(self, now=100.0):
        self.now = now

    def __call__(self):
        return self.now


class Running(object):
    """An action object exposing only ``progress``."""

    def __init__(self, progress=None):
        self.progress = progress


def record(state='pending', progress=None, started=None, reason='',
           index=1, name='web-1'):
    planned = plan.PlanAction(
        index, 'nova_migrate',
        {'resource_id': 'id-%d' % index, 'resource_name': name,
         'migration_type': 'live', 'source_node': 'host1',
         'destination_node': 'host2'}, uuid='u%d' % index)
    return plan_runner.ActionRecord(
        planned, state=state, reason=reason, started_at=started,
        action=Running(progress) if state == 'running' else None)


@pytest.mark.parametrize('progress,text', [
    (None, 'checking'),
    (tracking.Progress('not started'), 'starting'),
    (tracking.Progress('queued'), 'queued'),
    (tracking.Progress('migrating', percent=30), 'migrating 30%'),
    (tracking.Progress('running', percent=45,
                       memory_processed_bytes=460 * MIB,
                       memory_total_bytes=1024 * MIB),
     'running 45% (460/1024 MiB)'),
])
def test_progress_text(progress, text):
    assert console.describe_progress(progress) == text


def test_table_aligns_columns_and_leaves_the_last_one_whole():
    text = console.table(['a', 'bb', 'why'], [['xxx', 'y', 'a long reason']])
    assert text.splitlines() == ['a    bb  why', '---  --  ---',
                                 'xxx  y   a long reason']


def test_live_display_redraws_in_place():
    stream = io.StringIO()
    records = [record('running', tracking.Progress('running', 10), 90.0),
               record(index=2)]
    display = console.LiveDisplay(stream, records, Clock())
    display.refresh()
    first = stream.getvalue()
    display.refresh()
    # Up over the 2 action lines and the footer, then clear.
    assert stream.getvalue()[len(first):].startswith('\x1b[3F\x1b[J')


def test_live_display_shows_phase_progress_and_elapsed():
    stream = io.StringIO()
    display = console.LiveDisplay(
        stream, [record('running', tracking.Progress('running', 10), 88.0)],
        Clock())
    display.refresh()
    assert '#1 (u1) web-1 live host1 -> host2: running 10%, 12 s' in \
        stream.getvalue()


def test_live_display_writes_log_lines_above_the_block():
    stream = io.StringIO()
    display = console.LiveDisplay(stream, [record()], Clock())
    display.refresh()
    display.write_above('WARNING something')
    after = stream.getvalue().split('\x1b[2F\x1b[J', 1)[1]
    assert after.startswith('WARNING something\n  #1 (u1)')


def test_log_display_writes_a_line_only_on_change():
    stream = io.StringIO()
    clock = Clock()
    rec = record('running', tracking.Progress('running', 10), 99.0)
    display = console.LogDisplay(stream, [rec], clock,
                                 wall_clock=lambda: 0)
    display.refresh()
    clock.now += 1
    display.refresh()
    assert len(stream.getvalue().splitlines()) == 1


def test_log_display_repeats_a_running_action_every_interval():
    stream = io.StringIO()
    clock = Clock()
    rec = record('running', tracking.Progress('running', 10), 99.0)
    display = console.LogDisplay(stream, [rec], clock,
                                 wall_clock=lambda: 0)
    display.refresh()
    clock.now += tuning.LOG_PROGRESS_INTERVAL
    display.refresh()
    assert len(stream.getvalue().splitlines()) == 2


def test_log_display_gives_the_reason_of_a_final_result():
    stream = io.StringIO()
    display = console.LogDisplay(
        stream, [record('failed', started=99.0, reason='host is down')],
        Clock(), wall_clock=lambda: 0)
    display.refresh()
    assert stream.getvalue().rstrip().endswith(': failed, 1 s: host is down')


def test_log_display_never_uses_terminal_escapes():
    stream = io.StringIO()
    display = console.LogDisplay(
        stream, [record('running', tracking.Progress('running'), 99.0)],
        Clock(), wall_clock=lambda: 0)
    display.refresh()
    display.write_above('a log line')
    display.close()
    assert '\x1b' not in stream.getvalue()


def test_summary_counts_each_result():
    records = [record('succeeded', index=1), record('failed', index=2),
               record('succeeded', index=3)]
    assert console.summary_report(records).endswith(
        '3 actions: 2 succeeded, 1 failed')


def test_check_report_counts_each_verdict():
    verdicts = [plan_runner.Verdict(record().plan_action, 'ready'),
                plan_runner.Verdict(record().plan_action, 'would fail')]
    assert console.check_report(verdicts).endswith(
        '2 actions: 1 ready, 0 would skip, 1 would fail')


# -- progress that moves between reads -----------------------------------

GIB = 1 << 30
# A copy read at wall time 1000: a quarter of 1 GiB done, 64 MiB/s.
COPYING = tracking.Progress(
    'running', percent=25, memory_processed_bytes=GIB // 4,
    memory_total_bytes=GIB, figures_at=1000.0, copy_rate=64.0 * MIB,
    read_at=1000.0)


def test_a_known_rate_moves_percent_and_eta_on_between_reads():
    assert console.describe_progress(COPYING, now=1002.0) == \
        'running 37% (384/1024 MiB), about 10 s left'


def test_at_the_moment_of_the_read_the_figures_are_nova_s_own():
    assert console.describe_progress(COPYING, now=1000.0) == \
        'running 25% (256/1024 MiB), about 12 s left'


def test_a_copy_past_its_predicted_end_waits_for_nova():
    assert console.describe_progress(COPYING, now=1016.0) == \
        'running 100% (1024/1024 MiB), waiting for Nova ' \
        '(last figures 16 s ago)'


def test_figures_without_a_rate_say_how_old_they_are_once_stale():
    one_figure = dataclasses.replace(COPYING, copy_rate=None)
    assert console.describe_progress(one_figure, now=1006.0) == \
        'running 25% (256/1024 MiB), waiting for Nova ' \
        '(last figures 6 s ago)'


def test_fresh_figures_without_a_rate_are_shown_as_they_are():
    one_figure = dataclasses.replace(COPYING, copy_rate=None)
    assert console.describe_progress(one_figure, now=1001.0) == \
        'running 25% (256/1024 MiB)'


def test_a_phase_without_figures_says_when_nova_was_last_read():
    cold = tracking.Progress('migrating', read_at=1000.0)
    assert console.describe_progress(cold, now=1004.0) == \
        'migrating, waiting for Nova (last read 4 s ago)'


def test_a_completed_migration_does_not_wait_for_nova():
    done = tracking.Progress('completed', read_at=1000.0)
    assert console.describe_progress(done, now=1009.0) == 'completed'


def test_the_live_display_extrapolates_with_its_wall_clock():
    stream = io.StringIO()
    wall = Clock(1004.0)
    display = console.LiveDisplay(
        stream, [record('running', COPYING, 90.0)], Clock(), wall)
    display.refresh()
    wall.now = 1008.0
    display.refresh()
    first, second = [line for line in stream.getvalue().splitlines()
                     if '#1' in line]
    assert ('running 50% (512/1024 MiB), about 8 s left' in first,
            'running 75% (768/1024 MiB), about 4 s left' in second) == (
        True, True)


# -- what an interrupted action waits for ---------------------------------

def cold_record(progress):
    rec = record('running', progress, 90.0)
    rec.plan_action.input_parameters['migration_type'] = 'cold'
    return rec


@pytest.mark.parametrize('phase,text', [
    ('migrating', 'aborting: waiting for VERIFY_RESIZE to revert '
                  '(migrating)'),
    ('resize_migrating', 'aborting: waiting for VERIFY_RESIZE to revert '
                         '(resize_migrating)'),
    ('finished', 'aborting: reverting from VERIFY_RESIZE'),
    ('reverting', 'aborting: reverting to the source'),
])
def test_an_interrupted_cold_migration_says_what_it_waits_for(phase, text):
    stream = io.StringIO()
    display = console.LiveDisplay(
        stream, [cold_record(tracking.Progress(phase))], Clock())
    display.aborting = True
    display.refresh()
    assert '#1 (u1) web-1 cold host1 -> host2: %s, 10 s' % text in \
        stream.getvalue()


def test_an_interrupted_live_migration_shows_its_last_figures():
    stream = io.StringIO()
    display = console.LiveDisplay(
        stream, [record('running', COPYING, 90.0)], Clock(),
        Clock(1002.0))
    display.aborting = True
    display.refresh()
    assert 'live host1 -> host2: aborting: running 25% (256/1024 MiB), ' \
        '10 s' in stream.getvalue()


def test_the_log_display_writes_a_line_when_aborting_begins():
    stream = io.StringIO()
    display = console.LogDisplay(
        stream, [cold_record(tracking.Progress('migrating'))], Clock(),
        wall_clock=lambda: 0)
    display.refresh()
    display.aborting = True
    display.refresh()
    assert stream.getvalue().splitlines()[-1].endswith(
        'aborting: waiting for VERIFY_RESIZE to revert (migrating), 10 s')
