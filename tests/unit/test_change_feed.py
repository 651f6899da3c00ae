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

"""The shared feed: one request answers for every action of the process."""

import dataclasses
import threading

import pytest

from tests.unit import asks_of
from watcher_migrate import change_feed
from watcher_migrate import nova_gateway
from watcher_migrate import tuning


def view(server_id, host='host1', task_state='migrating', status='ACTIVE'):
    return nova_gateway.ServerView(id=server_id, name=server_id,
                                   status=status, task_state=task_state,
                                   host=host)


class FakeReads(object):
    """Nova's changes-since listing: what changed, and what was asked."""

    def __init__(self, servers):
        self.servers = servers
        self.calls = []
        self.fail = None
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def __call__(self, since):
        self.calls.append(since)
        self.entered.set()
        self.release.wait(5)
        if self.fail is not None:
            raise self.fail
        return list(self.servers.values())


def subscribe(feed, server_id):
    return feed.subscribe(server_id, view(server_id, task_state=None),
                          threading.Event())


def test_a_look_returns_the_server_as_nova_now_shows_it():
    feed = change_feed.ServerFeed(min_gap=0)
    reads = FakeReads({'a': view('a', host='host2', task_state=None)})
    sub = subscribe(feed, 'a')
    feed.fresh(sub, reads)
    assert sub.view.host == 'host2'
    assert len(reads.calls) == 1


def test_actions_asking_while_a_request_is_in_flight_share_the_next():
    feed = change_feed.ServerFeed(min_gap=0)
    reads = FakeReads({s: view(s) for s in 'abcdefgh'})
    subs = [subscribe(feed, s) for s in 'abcdefgh']
    asks = asks_of.AskCounter(feed)
    reads.release.clear()
    first = threading.Thread(target=feed.fresh, args=(subs[0], reads))
    first.start()
    assert reads.entered.wait(5)
    others = [threading.Thread(target=feed.fresh, args=(sub, reads))
              for sub in subs[1:]]
    for thread in others:
        thread.start()
    assert asks.reach(2 + len(others))
    reads.release.set()
    for thread in [first] + others:
        thread.join(10)
    # The one in flight, then one for all seven that asked meanwhile.
    assert len(reads.calls) == 2


def test_news_of_a_server_wakes_its_action_though_it_did_not_ask():
    feed = change_feed.ServerFeed(min_gap=0)
    landed = view('b', host='host3', task_state=None)
    reads = FakeReads({'a': view('a'), 'b': landed})
    asking = subscribe(feed, 'a')
    sleeping = subscribe(feed, 'b')
    feed.fresh(asking, reads)
    assert sleeping.wake.is_set()
    assert sleeping.news
    assert sleeping.view.host == 'host3'


def test_a_server_unchanged_since_the_last_request_keeps_its_view():
    feed = change_feed.ServerFeed(min_gap=0)
    reads = FakeReads({})
    sub = subscribe(feed, 'a')
    before = sub.view
    feed.fresh(sub, reads)
    assert sub.view == before
    assert not sub.wake.is_set()


def test_a_deleted_server_is_gone():
    feed = change_feed.ServerFeed(min_gap=0)
    reads = FakeReads({'a': view('a', status='DELETED')})
    sub = subscribe(feed, 'a')
    feed.fresh(sub, reads)
    assert sub.gone
    assert sub.view is None


def test_the_first_request_covers_changes_since_the_subscription():
    wall = [1000.0]
    feed = change_feed.ServerFeed(min_gap=0, wall=lambda: wall[0])
    reads = FakeReads({})
    sub = subscribe(feed, 'a')
    wall[0] = 1030.0
    feed.fresh(sub, reads)
    wall[0] = 1040.0
    feed.fresh(sub, reads)
    slack = tuning.CLOCK_SLACK
    assert reads.calls == [change_feed._nova_time(1000.0 - slack),
                           change_feed._nova_time(1030.0 - slack)]


def test_a_failed_request_fails_every_action_that_waited_for_it():
    feed = change_feed.ServerFeed(min_gap=0)
    reads = FakeReads({})
    reads.fail = RuntimeError('HTTP 503')
    sub = subscribe(feed, 'a')
    with pytest.raises(RuntimeError, match='503'):
        feed.fresh(sub, reads)
    reads.fail = None
    feed.fresh(sub, reads)
    assert len(reads.calls) == 2


def test_the_process_has_one_feed_per_compute_endpoint():
    registry = change_feed.FeedRegistry()
    one = registry.feed_for('http://nova-a/v2.1', 0.2)
    assert registry.feed_for('http://nova-a/v2.1', 0.2) is one
    assert registry.feed_for('http://nova-b/v2.1', 0.2) is not one


def test_the_process_has_one_feed_per_kind_of_change():
    registry = change_feed.FeedRegistry()
    servers = registry.feed_for('http://nova-a/v2.1', 0.2)
    migrations = registry.feed_for('http://nova-a/v2.1', 0.2,
                                   kind=change_feed.MigrationFeed)
    assert isinstance(migrations, change_feed.MigrationFeed)
    assert migrations is not servers


def clocked_feed(now):
    """A feed on the clock ``now[0]``, its reads, and two subscribers."""
    feed = change_feed.ServerFeed(min_gap=0, clock=lambda: now[0])
    return feed, FakeReads({}), subscribe(feed, 'a'), subscribe(feed, 'b')


def test_a_routine_look_is_content_with_another_actions_recent_request():
    now = [100.0]
    feed, reads, asking, routine = clocked_feed(now)
    now[0] = 101.0
    feed.fresh(asking, reads)
    now[0] = 103.0
    feed.fresh(routine, reads, max_age=2.5)
    assert len(reads.calls) == 1
    now[0] = 104.0
    feed.fresh(routine, reads)          # a look that must see Nova now
    assert len(reads.calls) == 2


def test_a_routine_look_never_takes_a_request_its_owner_has_seen():
    now = [100.0]
    feed, reads, sub, _other = clocked_feed(now)
    now[0] = 101.0
    feed.fresh(sub, reads)
    now[0] = 102.0
    feed.fresh(sub, reads, max_age=2.5)
    assert len(reads.calls) == 2


def test_a_routine_look_does_not_take_a_request_too_old():
    now = [100.0]
    feed, reads, asking, routine = clocked_feed(now)
    now[0] = 101.0
    feed.fresh(asking, reads)
    now[0] = 104.0
    feed.fresh(routine, reads, max_age=2.5)
    assert len(reads.calls) == 2


def test_a_routine_look_does_not_take_a_request_older_than_its_interest():
    now = [100.0]
    feed, reads, earlier, _other = clocked_feed(now)
    feed.fresh(earlier, reads)
    now[0] = 101.0
    later = subscribe(feed, 'c')
    feed.fresh(later, reads, max_age=5.0)
    assert len(reads.calls) == 2


# -- roll calls: each server must answer ----------------------------------

def anchored(server_id, updated):
    return dataclasses.replace(view(server_id), updated=updated)


def test_a_roll_call_reaches_back_to_every_servers_last_known_change():
    wall = [1000.0]
    feed = change_feed.ServerFeed(min_gap=0, wall=lambda: wall[0])
    reads = FakeReads({})
    sub = feed.subscribe('a', anchored('a', '1970-01-01T00:15:00Z'),
                         threading.Event())
    feed.subscribe('b', anchored('b', '1970-01-01T00:16:00Z'),
                   threading.Event())
    wall[0] = 1030.0
    feed.fresh(sub, reads)
    feed.fresh(sub, reads, roll_call=True)
    slack = tuning.CLOCK_SLACK
    assert reads.calls == [change_feed._nova_time(1000.0 - slack),
                           change_feed._nova_time(900.0 - slack)]


def test_a_server_left_out_of_a_roll_call_has_not_answered():
    # Nova leaves a cell that fails out of its lists, silently.
    feed = change_feed.ServerFeed(min_gap=0)
    here = feed.subscribe('a', anchored('a', '2026-12-02T10:00:00Z'),
                          threading.Event())
    left_out = feed.subscribe('b', anchored('b', '2026-12-02T10:00:00Z'),
                              threading.Event())
    reads = FakeReads({'a': anchored('a', '2026-12-02T10:00:00Z')})
    feed.fresh(here, reads, roll_call=True)
    assert here.answered and not left_out.answered
    assert not here.wake.is_set()       # the roll call brought no news


def test_a_change_moves_the_servers_anchor_forward():
    wall = [2e9]
    feed = change_feed.ServerFeed(min_gap=0, wall=lambda: wall[0])
    sub = feed.subscribe('a', anchored('a', '2026-12-02T10:00:00Z'),
                         threading.Event())
    feed.fresh(sub, FakeReads({'a': anchored('a', '2026-12-02T10:05:00Z')}))
    reads = FakeReads({})
    feed.fresh(sub, reads, roll_call=True)
    assert reads.calls == [change_feed._nova_time(
        1796205900.0 - tuning.CLOCK_SLACK)]


def test_a_routine_request_does_not_answer_for_a_roll_call():
    now = [100.0]
    feed, reads, asking, checking = clocked_feed(now)
    feed.fresh(asking, reads)
    feed.fresh(checking, reads, max_age=5.0, roll_call=True)
    assert len(reads.calls) == 2


def test_one_roll_call_answers_every_check_within_its_age():
    now = [100.0]
    feed, reads, first, second = clocked_feed(now)
    now[0] = 101.0
    feed.fresh(first, reads, roll_call=True)
    now[0] = 103.0
    feed.fresh(second, reads, max_age=5.0, roll_call=True)
    assert len(reads.calls) == 1


def test_a_roll_call_in_flight_does_not_hold_up_a_look():
    feed = change_feed.ServerFeed(min_gap=0)
    checking = feed.subscribe('a', anchored('a', '2026-12-02T10:00:00Z'),
                              threading.Event())
    looking = subscribe(feed, 'b')
    slow = FakeReads({})
    slow.release.clear()
    roll_call = threading.Thread(target=feed.fresh, args=(checking, slow),
                                 kwargs={'roll_call': True})
    roll_call.start()
    assert slow.entered.wait(5)
    try:
        quick = FakeReads({})
        feed.fresh(looking, quick)
        assert len(quick.calls) == 1
    finally:
        slow.release.set()
        roll_call.join(10)


def test_an_answer_begun_earlier_does_not_undo_a_newer_view():
    # A roll call and a routine request are in flight at once; the one
    # begun first may end last.
    feed = change_feed.ServerFeed(min_gap=0)
    before = anchored('a', '2026-12-02T10:00:00Z')
    sub = feed.subscribe('a', before, threading.Event())
    slow = FakeReads({'a': before})
    slow.release.clear()
    roll_call = threading.Thread(target=feed.fresh, args=(sub, slow),
                                 kwargs={'roll_call': True})
    roll_call.start()
    assert slow.entered.wait(5)
    landed = dataclasses.replace(before, host='host2', task_state=None)
    feed.fresh(sub, FakeReads({'a': landed}))
    slow.release.set()
    roll_call.join(10)
    assert sub.view.host == 'host2'
    assert sub.answered


def record(record_id, server_id, status):
    return nova_gateway.MigrationView(
        id=record_id, status=status, migration_type='live-migration',
        instance_uuid=server_id)


def test_migration_records_are_kept_by_id_and_their_change_wakes():
    feed = change_feed.MigrationFeed(min_gap=0)
    sub = feed.subscribe('a', None, threading.Event())
    feed.fresh(sub, lambda since: [record(7, 'a', 'queued'),
                                   record(8, 'b', 'running')])
    assert sub.view == {7: record(7, 'a', 'queued')}
    assert sub.wake.is_set()
    sub.wake.clear()
    feed.fresh(sub, lambda since: [])
    assert not sub.wake.is_set()
    feed.fresh(sub, lambda since: [record(7, 'a', 'running')])
    assert sub.view[7].status == 'running'
    assert sub.wake.is_set()


def test_askers_during_a_shared_read_get_the_next_answer():
    shared = change_feed.SharedRead()
    asks = asks_of.AskCounter(shared)
    answers = iter(['first', 'second'])
    entered, release = threading.Event(), threading.Event()
    calls = []

    def read():
        calls.append(1)
        entered.set()
        release.wait(5)
        return next(answers)

    got = {}
    leader = threading.Thread(target=lambda: got.update(a=shared.get(read)))
    leader.start()
    assert entered.wait(5)
    followers = [threading.Thread(
        target=lambda k=k: got.update({k: shared.get(read)}))
        for k in 'bcd']
    for thread in followers:
        thread.start()
    assert asks.reach(2 + len(followers))
    release.set()
    for thread in [leader] + followers:
        thread.join(10)
    assert got == {'a': 'first', 'b': 'second', 'c': 'second',
                   'd': 'second'}
    assert len(calls) == 2
