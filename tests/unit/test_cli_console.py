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

import io

import pytest

from watcher_migrate import console
from watcher_migrate import plan
from watcher_migrate import plan_runner
from watcher_migrate import tracking

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
    clock.now += console.LOG_PROGRESS_INTERVAL
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
