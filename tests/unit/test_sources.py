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

"""The sources of observation and the tracker's fallback between them."""

import dataclasses
import logging
import threading
import time
import types
import uuid

from novaclient import exceptions as nova_exceptions
import pytest

from tests.unit import fake_nova
from watcher_migrate import change_feed
from watcher_migrate import context
from watcher_migrate import exceptions
from watcher_migrate import nova_gateway
from watcher_migrate import options
from watcher_migrate import parameters
from watcher_migrate import sources
from watcher_migrate import tracking

SERVER_ID = '7a0c3d5e-0000-4000-8000-000000000002'
SERVER = nova_gateway.ServerView(
    id=SERVER_ID, name='vm', status='ACTIVE', task_state='migrating',
    host='compute-1', updated='2026-11-26T03:00:00Z')


class Scripted(sources.Source):
    """A source answering what it is given, or raising it."""

    def __init__(self, name, answer, on_broken=None, calls=None):
        super(Scripted, self).__init__('vm', on_broken)
        self.name = name
        self.answer = answer
        self.calls = calls if calls is not None else []
        self.closed_by = []

    def _look(self, max_age, check):
        self.calls.append((self.name, max_age))
        self.checks = getattr(self, 'checks', []) + [check]
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer

    def close(self):
        self.closed_by.append(self.name)


def warnings_of(caplog):
    return [r for r in caplog.records if r.levelno == logging.WARNING]


# -- the contract of a source ------------------------------------------------

def test_a_source_that_fails_breaks_once_and_then_says_nothing(caplog):
    broken = []
    source = Scripted('feed', nova_exceptions.Forbidden(403, 'policy'),
                      on_broken=lambda: broken.append(True))
    assert source.look(1.0) is None
    assert source.look(1.0) is None
    assert source.broken
    assert source.calls == [('feed', 1.0)]    # not asked once broken
    assert source.closed_by == ['feed']
    assert broken == [True]
    warnings = warnings_of(caplog)
    assert len(warnings) == 1
    assert 'policy' in warnings[0].getMessage()


def test_an_outage_of_nova_is_left_to_the_caller_and_breaks_nothing():
    source = Scripted('feed', exceptions.NovaUnavailable('Nova is down'))
    with pytest.raises(exceptions.NovaUnavailable):
        source.look()
    assert not source.broken


def test_the_read_of_the_server_alone_never_breaks():
    def refused(server_id):
        raise nova_exceptions.Forbidden(403, 'policy')

    read = sources.ServerRead(types.SimpleNamespace(get_server=refused),
                              SERVER_ID, 'vm')
    with pytest.raises(nova_exceptions.Forbidden):
        read.look()
    assert not read.broken and not read.closed


def test_figures_nova_refuses_break_both_reads_of_them(caplog):
    reads = []

    def refused(server_id, *args):
        reads.append(args)
        raise nova_exceptions.BadRequest(
            400, 'Invalid output: disk_processed_bytes 0 is less than 1')

    figures = sources.FiguresSource(types.SimpleNamespace(
        list_live_migrations_in_progress=refused,
        get_live_migration=refused), SERVER_ID, 'vm')
    assert figures.record(7) is None
    assert figures.look() is None
    assert reads == [(7,)]
    assert figures.broken
    messages = [r.getMessage() for r in warnings_of(caplog)]
    assert len(messages) == 1
    assert 'cannot give the progress' in messages[0]
    assert 'disk_processed_bytes' in messages[0]


def test_a_feed_source_unsubscribes_when_closed():
    feed = change_feed.ServerFeed()
    source = sources.FeedSource(feed, lambda since: [], 'server', SERVER_ID,
                                SERVER, threading.Event(), 'vm')
    assert source.subscribers == 1 and not source.closed
    source.close()
    assert source.subscribers == 0 and source.closed
    assert source.look() is None


# -- the tracker's fallback order -------------------------------------------

def make_tracker(gateway=None, shared_tracking=True, clock=time.monotonic):
    request = parameters.MigrationRequest(
        server_id=SERVER_ID, migration_type='live',
        source_node='compute-1', destination_node='compute-2')
    return tracking.MigrationTracker(
        gateway, request,
        options.Settings({'shared_tracking': shared_tracking,
                          'poll_interval_max': 10.0}),
        clock=clock, context=context.ProcessContext())


def test_sources_are_asked_in_order_until_one_can_say():
    tracker = make_tracker()
    calls = []
    silent = Scripted('silent', None, calls=calls)
    answering = Scripted('answering', (SERVER, False), calls=calls)
    last = Scripted('last', AssertionError('asked too far'), calls=calls)
    tracker.server_sources[:] = [silent, answering, last]
    look = tracker.server_look(2.0)
    assert look.server == SERVER and not look.server_gone
    assert calls == [('silent', 2.0), ('answering', 2.0)]


def test_each_check_interval_a_look_must_prove_the_server_is_there():
    # Nova leaves a cell that does not answer in time out of its lists:
    # a deletion the shared feed missed must still be seen.
    now = [100.0]
    tracker = make_tracker(clock=lambda: now[0])
    feed = Scripted('feed', (SERVER, False))
    tracker.server_sources[:] = [feed]
    tracker.server_look()
    now[0] += 2 * 10.0
    tracker.server_look()
    tracker.server_look()
    assert feed.checks == [False, True, False]


def test_a_server_no_source_can_prove_is_read_alone():
    # A feed's roll call that left the server out says nothing.
    now = [100.0]
    tracker = make_tracker(clock=lambda: now[0])
    calls = []
    feed = Scripted('feed', (SERVER, False), calls=calls)
    alone = Scripted('alone', (None, True), calls=calls)
    feed._look = lambda max_age, check: (
        calls.append(('feed', max_age)) or (None if check else feed.answer))
    tracker.server_sources[:] = [feed, alone]
    before = tracker.server_look()
    now[0] += 2 * 10.0
    checked = tracker.server_look()
    after = tracker.server_look()
    assert not before.server_gone and checked.server_gone
    assert [name for name, _ in calls] == ['feed', 'feed', 'alone', 'feed']
    assert not after.server_gone


def test_a_source_put_first_answers_before_the_shared_feed():
    # How a further source (Nova's notifications) plugs in.
    nova = fake_nova.FakeNova()
    listings = []
    nova.list_changed_servers = lambda since: listings.append(since)
    tracker = make_tracker(nova)
    tracker.watch(SERVER)
    calls = []
    pushed = Scripted('notifications', (SERVER, False), calls=calls)
    tracker.server_sources.insert(0, pushed)
    try:
        look = tracker.server_look()
    finally:
        tracker.unwatch()
    assert look.server == SERVER
    assert calls == [('notifications', 0.0)] and listings == []
    assert pushed.closed_by == ['notifications']


class Announcing(Scripted):
    """Nova's notifications, with news of the server until looked at."""

    def __init__(self, calls, landed=None):
        super(Announcing, self).__init__('notifications', None, calls=calls)
        self.news = True
        self.landed = landed

    def has_news(self):
        return self.news

    def landing(self, source, destination=None):
        return self.landed if self.news else None

    def _look(self, max_age, check):
        self.news = False
        return super(Announcing, self)._look(max_age, check)


def heard_tracker(news, landed=None, clock=time.monotonic):
    """A tracker hearing its move: (tracker, names of the sources asked).

    ``landed``: the server as a believed landing among the news shows it.
    """
    tracker = make_tracker(clock=clock)
    calls = []
    notices = Announcing(calls, landed)
    notices.hearing = True
    notices.news = news
    tracker._notices = notices
    tracker._server_read = Scripted('alone', (SERVER, False), calls=calls)
    tracker.server_sources[:] = [notices,
                                 Scripted('feed', (SERVER, False),
                                          calls=calls),
                                 tracker._server_read]
    return tracker, calls


def test_news_from_nova_is_confirmed_by_the_server_read_alone():
    # The shared feed's request in flight began before the event: it
    # would be waited out, then one more made.
    tracker, calls = heard_tracker(news=True)
    look = tracker.server_look(2.0)
    assert look.server == SERVER
    assert [name for name, _ in calls] == ['notifications', 'alone']


def test_a_believed_landing_is_the_look_with_no_read():
    landed = dataclasses.replace(SERVER, host='host2')
    tracker, calls = heard_tracker(news=True, landed=landed)
    look = tracker.server_look(2.0)
    assert look.server == landed
    assert [name for name, _ in calls] == ['notifications']


def test_a_heard_move_goes_a_notification_check_interval_unlooked_at():
    # Its events wake it; only a lost one needs the look.
    now = [100.0]
    tracker, calls = heard_tracker(news=False, clock=lambda: now[0])
    now[0] += 119.0
    assert tracker.quiet_look() is not None
    now[0] += 1.0
    assert tracker.quiet_look() is None
    assert calls == []


def test_the_last_look_of_a_heard_wait_reads_nova():
    # A timeout's verdict (abort, revert) must not rest on events.
    now = [100.0]
    tracker, _calls = heard_tracker(news=False, clock=lambda: now[0])
    tracker.wait_ends(130.0)
    now[0] = 129.0
    assert tracker.quiet_look() is not None
    now[0] = 130.0
    assert tracker.quiet_look() is None


def test_without_news_a_heard_move_looks_through_the_shared_feed():
    tracker, calls = heard_tracker(news=False)
    tracker.server_look(2.0)
    assert [name for name, _ in calls] == ['notifications', 'feed']


def test_a_shared_feed_nova_refuses_falls_back_to_the_server_alone(caplog):
    reads = []
    listings = []

    def refused(since):
        listings.append(since)
        raise nova_exceptions.Forbidden(403, 'all_tenants is not allowed')

    def get_server(server_id):
        reads.append(server_id)
        return SERVER

    tracker = make_tracker(types.SimpleNamespace(
        endpoint='http://nova.test/refused-%s' % uuid.uuid4(),
        supports=lambda version: True, list_changed_servers=refused,
        list_changed_live_migrations=lambda since: [],
        get_server=get_server))
    tracker.watch(SERVER)
    try:
        first = tracker.server_look(1.0)
        second = tracker.server_look(1.0)
    finally:
        tracker.unwatch()
    assert first.server == second.server == SERVER
    assert len(listings) == 1 and reads == [SERVER_ID, SERVER_ID]
    messages = [r.getMessage() for r in warnings_of(caplog)]
    assert len(messages) == 1
    assert 'shared view of servers' in messages[0]
    assert 'all_tenants is not allowed' in messages[0]


def test_figures_nova_refuses_hand_the_live_look_to_the_server(caplog):
    nova = fake_nova.FakeNova()
    reads = []

    def refused(server_id, *args):
        reads.append(server_id)
        raise nova_exceptions.BadRequest(400, 'Invalid output')

    nova.list_live_migrations_in_progress = refused
    tracker = make_tracker(nova, shared_tracking=False)
    tracker.schedule = types.SimpleNamespace(
        urgent=False, late=False, wants_figures=lambda: True,
        stall_check_due=lambda: False)
    for _ in range(3):
        look = tracker.live_look()
        assert look.server is not None
    assert len(reads) == 1
    assert len(warnings_of(caplog)) == 1
