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

"""The journal of moves in flight: the store and its owners."""

import dataclasses
import os
import socket
import sqlite3
import subprocess

import pytest

from watcher_migrate import journal
from watcher_migrate import options

SERVER = '6f1c3d56-1f7e-4a39-9a57-0a0c25b5b3e1'


def entry(owner=None, **fields):
    values = dict(server_id=SERVER, migration_type='live', source='host1',
                  destination='host2', deadline=1000.0,
                  timeout_action='abort', status_before='ACTIVE',
                  owner=owner or journal.Owner.current())
    values.update(fields)
    return journal.Entry(**values)


def dead_pid():
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen(['true'])
    child.wait()
    return child.pid


@pytest.fixture
def store(tmp_path):
    return journal.Journal(str(tmp_path / 'state' / 'journal.sqlite'))


# -- the store ----------------------------------------------------------------

def test_the_journal_is_in_wal_mode(store):
    store.open()
    connection = sqlite3.connect(store.path)
    try:
        mode = connection.execute('PRAGMA journal_mode').fetchone()[0]
    finally:
        connection.close()
    assert mode == 'wal'


def test_an_entry_reads_back_as_it_was_written(store):
    written = store.add(entry(action_uuid='a-1', server_name='web-1'))
    [read] = store.entries()
    assert read == written
    assert read.id is not None and read.created_at is not None
    assert (read.phase, read.migration_id) == (journal.MOVING, None)


def test_the_scheduler_destination_is_stored_empty(store):
    store.add(entry(destination=None))
    assert store.entries()[0].destination == ''


def test_migration_id_and_phase_are_updated(store):
    written = store.add(entry())
    store.update(written.id, migration_id=42)
    store.update(written.id, phase=journal.STOPPING)
    [read] = store.entries()
    assert (read.migration_id, read.phase) == (42, journal.STOPPING)


def test_only_migration_id_and_phase_can_be_updated(store):
    written = store.add(entry())
    with pytest.raises(ValueError, match='not updatable: deadline'):
        store.update(written.id, deadline=0.0)


def test_a_removed_entry_is_gone(store):
    first = store.add(entry())
    second = store.add(entry(server_id='other'))
    store.remove(first.id)
    assert [e.id for e in store.entries()] == [second.id]


def test_a_second_process_sees_the_entries_of_the_first(store):
    store.add(entry())
    assert len(journal.Journal(store.path).entries()) == 1


def test_a_claim_takes_the_entry_once(store):
    dead = journal.Owner(socket.gethostname(), dead_pid(), 1, None)
    written = store.add(entry(owner=dead))
    me = journal.Owner.current()
    claimed = store.claim(written, me)
    assert claimed.owner == me
    assert store.claim(written, journal.Owner('rival', 1, 1, None)) is None
    assert store.entries()[0].owner == me


@pytest.mark.parametrize('where', ['file as directory', 'file as journal'])
def test_an_unusable_path_fails_naming_the_path_and_reason(tmp_path, where):
    blocker = tmp_path / 'blocker'
    blocker.write_text('not a directory')
    path = (blocker / 'journal.sqlite' if where == 'file as directory'
            else blocker)
    store = journal.Journal(str(path))
    with pytest.raises(journal.JournalError) as error:
        store.add(entry())
    message = str(error.value)
    assert str(path) in message
    assert ('Not a directory' in message if where == 'file as directory'
            else 'not a database' in message)


def test_an_unusable_journal_is_an_action_failure(tmp_path):
    from watcher_migrate import exceptions
    assert issubclass(journal.JournalError, exceptions.ActionFailed)


# -- where it lives -----------------------------------------------------------

def test_the_default_path_is_under_xdg_state_home():
    assert journal.default_path({'XDG_STATE_HOME': '/srv/state'}) == \
        '/srv/state/watcher-migrate/journal.sqlite'


def test_without_xdg_state_home_the_default_is_under_the_home(monkeypatch):
    monkeypatch.setenv('HOME', '/var/lib/watcher')
    assert journal.default_path({}) == \
        '/var/lib/watcher/.local/state/watcher-migrate/journal.sqlite'


def test_the_journal_path_option_overrides_the_default():
    settings = options.Settings({'journal_path': '/srv/j.sqlite'})
    assert journal.path_of(settings) == '/srv/j.sqlite'


def test_tests_keep_their_journal_out_of_the_home(_private_journal):
    assert journal.path_of(options.Settings()) == str(_private_journal)


# -- owners -------------------------------------------------------------------

def test_the_current_process_is_a_live_owner():
    owner = journal.Owner.current()
    assert owner.local and owner.alive()


def test_an_owner_whose_pid_is_not_running_is_gone():
    me = journal.Owner.current()
    assert not dataclasses.replace(me, pid=dead_pid()).alive()


def test_a_reused_pid_is_not_taken_for_the_owner():
    me = journal.Owner.current()
    assert not dataclasses.replace(me, started=me.started - 1).alive()


def test_an_owner_of_an_earlier_boot_is_gone():
    me = journal.Owner.current()
    assert not dataclasses.replace(me, boot='an-earlier-boot').alive()


def test_an_owner_on_another_host_is_not_local():
    assert not journal.Owner('elsewhere', os.getpid()).local


def test_the_start_time_is_read_past_a_command_name_with_parentheses():
    stat = ('4242 (odd) name) S 1 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 '
            '20 0 1 0 987654 0 0')
    assert journal.start_in_stat(stat) == 987654


# -- a move's row -------------------------------------------------------------

def test_a_move_row_follows_its_migration_id_phase_and_end(store):
    in_flight = journal.InFlight(store, store.add(entry()))
    in_flight.known(7)
    in_flight.phase(journal.CONFIRMING)
    [read] = store.entries()
    assert (read.migration_id, read.phase) == (7, journal.CONFIRMING)
    in_flight.ended()
    assert store.entries() == []


def test_a_failed_write_after_the_first_is_logged_not_raised(
        store, tmp_path, caplog):
    in_flight = journal.InFlight(store, store.add(entry()))
    # The journal's file becomes unusable under the move.
    blocker = tmp_path / 'blocker'
    blocker.write_text('not a directory')
    store.path = str(blocker / 'journal.sqlite')
    in_flight.phase(journal.STOPPING)
    assert 'goes on without its phase in the journal' in caplog.text
    assert store.path in caplog.text
