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

"""Which look the tracker of a live migration takes next."""

import dataclasses
import types
import uuid

import pytest

from watcher_migrate import context
from watcher_migrate import end_prediction
from watcher_migrate import nova_gateway
from watcher_migrate import options
from watcher_migrate import parameters
from watcher_migrate import sources
from watcher_migrate import tracking
from watcher_migrate import tuning


SERVER_ID = '7a0c3d5e-0000-4000-8000-000000000001'


def make_tracker(gateway=None):
    clock = [100.0]
    request = parameters.MigrationRequest(
        server_id=SERVER_ID,
        migration_type='live', source_node='compute-1',
        destination_node='compute-2')
    tracker = tracking.MigrationTracker(
        gateway, request, options.Settings({'poll_interval_max': 4.0}),
        clock=lambda: clock[0], context=context.ProcessContext())
    tracker.clock_now = clock
    return tracker


@pytest.fixture
def tracker():
    tracker = make_tracker()
    tracker.asked_ages = []
    tracker.may_check = []

    def server_look(max_age=0.0, may_check=True):
        tracker.asked_ages.append(max_age)
        tracker.may_check.append(may_check)

    tracker.server_look = server_look
    return tracker


def check_due(tracker):
    # Long after the last server read: the periodic check is due.
    tracker.clock_now[0] += 3600


def schedule(urgent, late=False):
    return types.SimpleNamespace(urgent=urgent, late=late,
                                 wants_figures=lambda: True,
                                 stall_check_due=lambda: False)


def test_the_look_at_the_predicted_end_sees_nova_as_it_is_now(tracker):
    check_due(tracker)
    tracker.schedule = schedule(urgent=True)
    tracker.live_look()
    assert tracker.asked_ages == [0.0]


def test_a_periodic_server_check_accepts_a_recent_shared_listing(tracker):
    check_due(tracker)
    tracker.schedule = schedule(urgent=False)
    tracker.live_look()
    assert tracker.asked_ages == [tuning.ROUTINE_AGE_FRACTION * 4.0]


def test_the_looks_at_the_expected_end_leave_the_check_to_the_next(
        tracker):
    # A roll call lists every followed server: the landing must not
    # wait for it.
    check_due(tracker)
    for urgent, late in ((True, False), (False, True)):
        tracker.schedule = schedule(urgent=urgent, late=late)
        tracker.live_look()
    tracker.schedule = schedule(urgent=False)
    tracker.live_look()
    assert tracker.may_check == [False, False, True]


def test_a_look_for_an_overdue_landing_accepts_only_a_fresh_listing(
        tracker):
    check_due(tracker)
    tracker.schedule = schedule(urgent=False, late=True)
    tracker.live_look()
    assert tracker.asked_ages == [tuning.ENDING_LATE_AGE]


class Pushing(sources.Source):
    """A source that pushed news of the server (as the shared feed does)."""

    def _look(self, max_age):
        return None, False

    def has_news(self):
        return True


def test_news_of_the_server_from_the_shared_feed_is_looked_at_first(tracker):
    # No gateway: reading the figures now would fail the test.
    tracker.server_sources.insert(0, Pushing('vm'))
    tracker.schedule = schedule(urgent=False)
    tracker.live_look()
    assert len(tracker.asked_ages) == 1


def test_news_a_look_brings_itself_does_not_cut_the_next_sleep():
    server = nova_gateway.ServerView(
        id=SERVER_ID, name='vm', status='ACTIVE',
        task_state='migrating', host='compute-1',
        updated='2026-11-26T03:00:00Z')
    moved = dataclasses.replace(server, updated='2026-11-26T03:00:09Z')
    tracker = make_tracker(types.SimpleNamespace(
        endpoint='http://nova.test/wake-%s' % uuid.uuid4(),
        supports=lambda version: False,
        list_changed_servers=lambda since: [moved]))
    tracker.watch(server)
    try:
        look = tracker.server_look()
    finally:
        tracker.unwatch()
    assert look.server == moved
    assert not tracker.wake.is_set()


def test_a_server_nova_shows_deleted_is_gone():
    deleting = nova_gateway.ServerView(
        id=SERVER_ID, name='vm', status='DELETED',
        task_state=None, host='compute-1')
    tracker = make_tracker(types.SimpleNamespace(
        get_server=lambda server_id: deleting))
    # Not watched: the server read alone.
    look = tracker.server_look()
    assert look.server_gone and look.server is None


def figures(at, processed):
    stamp = '2027-01-15T08:00:%06.3f' % at
    return nova_gateway.MigrationView(
        id=7, status='running', memory_total_bytes=1 << 30,
        memory_processed_bytes=processed,
        memory_remaining_bytes=(1 << 30) - processed, updated_at=stamp)


def test_progress_carries_the_time_of_nova_s_figures_and_the_rate():
    request = parameters.MigrationRequest(
        server_id='7a0c3d5e-0000-4000-8000-000000000001',
        migration_type='live', source_node='compute-1',
        destination_node='compute-2')
    tracker = tracking.MigrationTracker(
        None, request, options.Settings({}), clock=lambda: 50.0,
        wall=lambda: 1800000100.0, context=context.ProcessContext())
    tracker.schedule = end_prediction.LiveSchedule(
        0.2, 5.0, wall=lambda: 1800000100.0)
    for at, processed in ((1.0, 100 << 20), (3.0, 300 << 20)):
        record = figures(at, processed)
        tracker.schedule.predictor.add(record)
        tracker.log_progress(tracking.Look(migration=record, at=50.0))
    progress = tracker.latest
    # 1800000000 is 2027-01-15T08:00:00Z.
    assert (progress.figures_at, progress.copy_rate, progress.read_at) == (
        1800000003.0, 100 << 20, 1800000100.0)


def test_the_look_at_the_end_of_the_stall_window_reads_the_figures(tracker):
    running = figures(5.0, 500 << 20)
    reads = []
    tracker.gateway = types.SimpleNamespace(
        list_live_migrations_in_progress=lambda server: reads.append(
            server) or [running])
    tracker.figures.gateway = tracker.gateway
    check_due(tracker)
    tracker.server_sources.insert(0, Pushing('vm'))
    tracker.schedule = types.SimpleNamespace(
        urgent=False, late=False, wants_figures=lambda: True,
        stall_check_due=lambda: True, watch=None,
        predictor=end_prediction.EndPredictor())
    look = tracker.live_look()
    # Though the server check is due and news came: the next look sees
    # the server.
    assert (reads, look.migration, tracker.asked_ages) == (
        [SERVER_ID], running, [])


def test_the_moves_of_a_process_share_what_it_learned_of_copies():
    shared = context.ProcessContext()
    request = parameters.MigrationRequest(
        server_id=SERVER_ID, migration_type='live', source_node='compute-1',
        destination_node='compute-2')
    schedules = [tracking.MigrationTracker(
        None, request, options.Settings({}), clock=lambda: 50.0,
        context=shared).live_schedule()[0] for _ in range(2)]
    assert schedules[0].pace is schedules[1].pace is shared.copy_pace
