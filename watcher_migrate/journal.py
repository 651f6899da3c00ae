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

"""The journal of moves in flight: what a dead process left in Nova.

A move's row is written before its request is sent, kept up to date
(migration id, phase) and deleted once the move has ended. A process
that dies mid-move (kill -9, OOM, host reboot) leaves its rows, which
``recovery`` reconciles with what Nova shows. Each row names its owner
(host, pid, and the process's start time and the host's boot, so that a
reused pid is not taken for it): only a row whose owner is gone is
touched.

The store is one sqlite file in WAL mode, shared by every process of the
host that uses the same path (appliers, the command-line tool). It holds
no secrets: servers, hosts, deadlines, owners.
"""

import contextlib
import dataclasses
import errno
import os
import socket
import sqlite3
import time

from oslo_log import log

from watcher_migrate import exceptions
from watcher_migrate import tuning

LOG = log.getLogger(__name__)

#: The phases of a move a row records.
MOVING = 'moving'
CONFIRMING = 'confirming'
STOPPING = 'stopping'
REVERTING = 'reverting'

FILE_NAME = os.path.join('watcher-migrate', 'journal.sqlite')
SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS moves (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    server_id TEXT NOT NULL,
    server_name TEXT,
    migration_type TEXT NOT NULL CHECK (migration_type IN ('live', 'cold')),
    source TEXT NOT NULL,
    destination TEXT NOT NULL DEFAULT '',
    status_before TEXT,
    action_uuid TEXT,
    deadline REAL NOT NULL,
    timeout_action TEXT NOT NULL,
    phase TEXT NOT NULL,
    migration_id INTEGER,
    owner_host TEXT NOT NULL,
    owner_pid INTEGER NOT NULL,
    owner_started INTEGER,
    owner_boot TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
)
"""

_BOOT_ID = '/proc/sys/kernel/random/boot_id'


def default_path(environ=None):
    """$XDG_STATE_HOME/watcher-migrate/journal.sqlite, else ~/.local/state.

    For a packaged applier running as user watcher (home /var/lib/watcher)
    that is /var/lib/watcher/.local/state/watcher-migrate/journal.sqlite.
    """
    environ = os.environ if environ is None else environ
    state = environ.get('XDG_STATE_HOME') or os.path.join(
        os.path.expanduser('~'), '.local', 'state')
    return os.path.join(state, FILE_NAME)


def path_of(settings):
    """The journal path ``settings`` name (journal_path, else the default)."""
    return settings.journal_path or default_path()


class JournalError(exceptions.ActionFailed):
    """The journal cannot be opened or written; the message says where."""


# -- owners -------------------------------------------------------------------

def process_start(pid):
    """The start time of process ``pid`` in clock ticks since boot.

    Field 22 of /proc/PID/stat; None if there is no such process.
    """
    try:
        with open('/proc/%d/stat' % pid) as stat:
            return start_in_stat(stat.read())
    except OSError:
        return None


def start_in_stat(text):
    """The start time (field 22) in the text of a /proc/PID/stat."""
    # The command name (field 2) is in parentheses and may hold spaces
    # and parentheses itself: the fields after it follow the last ')'.
    fields = text[text.rindex(')') + 2:].split()
    return int(fields[19])


def boot_id():
    """This boot of the host (a pid and start time repeat across boots)."""
    try:
        with open(_BOOT_ID) as boot:
            return boot.read().strip()
    except OSError:
        return None


@dataclasses.dataclass(frozen=True)
class Owner:
    """The process that owns a row: host name, pid, start, boot."""

    host: str
    pid: int
    started: int = None
    boot: str = None

    @classmethod
    def current(cls):
        pid = os.getpid()
        return cls(socket.gethostname(), pid, process_start(pid), boot_id())

    @property
    def local(self):
        """Whether the owner ran on this host (its liveness can be told)."""
        return self.host == socket.gethostname()

    def alive(self):
        """Whether the owner still runs; only meaningful when ``local``."""
        if self.boot is not None and self.boot != boot_id():
            return False
        started = process_start(self.pid)
        return started is not None and started == self.started

    def __str__(self):
        return '%s pid %d' % (self.host, self.pid)


# -- rows ---------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Entry:
    """One move in flight, as its row says.

    ``destination`` is '' when the scheduler chooses; ``deadline`` is a
    wall-clock epoch; ``migration_id`` None until Nova's record is known.
    """

    server_id: str
    migration_type: str
    source: str
    deadline: float
    timeout_action: str
    owner: Owner
    destination: str = ''
    server_name: str = None
    status_before: str = None
    action_uuid: str = None
    phase: str = MOVING
    migration_id: int = None
    created_at: float = None
    updated_at: float = None
    id: int = None

    @property
    def live(self):
        return self.migration_type == 'live'

    @property
    def label(self):
        if self.server_name:
            return '%s (%s)' % (self.server_id, self.server_name)
        return self.server_id


_COLUMNS = ('id', 'server_id', 'server_name', 'migration_type', 'source',
            'destination', 'status_before', 'action_uuid', 'deadline',
            'timeout_action', 'phase', 'migration_id', 'owner_host',
            'owner_pid', 'owner_started', 'owner_boot', 'created_at',
            'updated_at')
_UPDATABLE = ('phase', 'migration_id')


def _row(entry):
    values = {name: getattr(entry, name) for name in _COLUMNS
              if not name.startswith('owner_')}
    values.update(owner_host=entry.owner.host, owner_pid=entry.owner.pid,
                  owner_started=entry.owner.started,
                  owner_boot=entry.owner.boot)
    values['destination'] = values['destination'] or ''
    return values


def _entry(row):
    values = dict(zip(_COLUMNS, row))
    owner = Owner(values.pop('owner_host'), values.pop('owner_pid'),
                  values.pop('owner_started'), values.pop('owner_boot'))
    return Entry(owner=owner, **values)


# -- the store ----------------------------------------------------------------

class Journal(object):
    """The sqlite store of moves in flight at ``path``.

    Every call opens its own connection (moves are rare, and a
    connection per call is safe across threads and processes); writers
    of other processes are waited for up to JOURNAL_BUSY_TIMEOUT.
    Every failure raises ``JournalError`` naming the path and the reason.
    """

    def __init__(self, path, clock=time.time):
        self.path = path
        self.clock = clock
        self._ready = False

    @property
    def directory(self):
        return os.path.dirname(os.path.abspath(self.path))

    def _fail(self, error):
        why = str(error)
        if os.path.isdir(self.directory) and \
                not os.access(self.directory, os.W_OK):
            # sqlite only says "unable to open database file".
            why += ' (directory %s is not writable)' % self.directory
        return JournalError('Journal of moves in flight %s cannot be used: %s'
                            % (self.path, why))

    @contextlib.contextmanager
    def _connection(self):
        try:
            if not self._ready:
                if os.path.exists(self.directory) and \
                        not os.path.isdir(self.directory):
                    raise NotADirectoryError(
                        errno.ENOTDIR, os.strerror(errno.ENOTDIR),
                        self.directory)
                os.makedirs(self.directory, mode=0o700, exist_ok=True)
            connection = sqlite3.connect(
                self.path, timeout=tuning.JOURNAL_BUSY_TIMEOUT,
                isolation_level=None)
        except (OSError, sqlite3.Error) as e:
            raise self._fail(e)
        try:
            if not self._ready:
                self._prepare(connection)
            yield connection
        except sqlite3.Error as e:
            raise self._fail(e)
        finally:
            connection.close()

    def _prepare(self, connection):
        # WAL: readers (recover --dry-run) never block a writer, and a
        # commit survives a crash of the process the moment it returns.
        mode = connection.execute('PRAGMA journal_mode=WAL').fetchone()[0]
        if mode.lower() != 'wal':
            raise sqlite3.OperationalError(
                'it cannot be put in WAL mode (journal_mode stays %s)' % mode)
        connection.execute(SCHEMA)
        connection.execute('PRAGMA user_version=%d' % SCHEMA_VERSION)
        self._ready = True

    def open(self):
        """Make sure the journal can be written; raise JournalError if not."""
        with self._connection() as connection:
            # A write proves the file and its directory writable (an
            # existing file may be readable only).
            connection.execute('BEGIN IMMEDIATE')
            connection.execute('ROLLBACK')

    def add(self, entry):
        """Write ``entry``'s row; returns the entry with its id."""
        now = self.clock()
        entry = dataclasses.replace(entry, created_at=now, updated_at=now)
        values = _row(entry)
        del values['id']
        with self._connection() as connection:
            cursor = connection.execute(
                'INSERT INTO moves (%s) VALUES (%s)'
                % (', '.join(values), ', '.join('?' * len(values))),
                tuple(values.values()))
            return dataclasses.replace(entry, id=cursor.lastrowid)

    def update(self, entry_id, **fields):
        """Set ``phase`` or ``migration_id`` of a row (gone: nothing)."""
        unknown = set(fields) - set(_UPDATABLE)
        if unknown:
            raise ValueError('not updatable: %s' % ', '.join(sorted(unknown)))
        fields['updated_at'] = self.clock()
        with self._connection() as connection:
            connection.execute(
                'UPDATE moves SET %s WHERE id = ?'
                % ', '.join('%s = ?' % name for name in fields),
                tuple(fields.values()) + (entry_id,))

    def remove(self, entry_id):
        """Delete a row: its move has ended."""
        with self._connection() as connection:
            connection.execute('DELETE FROM moves WHERE id = ?', (entry_id,))

    def entries(self):
        """Every row, oldest first."""
        with self._connection() as connection:
            rows = connection.execute(
                'SELECT %s FROM moves ORDER BY id' % ', '.join(_COLUMNS))
            return [_entry(row) for row in rows.fetchall()]

    def claim(self, entry, owner):
        """Make ``owner`` the owner of ``entry``'s row if it still is not.

        Compare-and-set on the old owner: of two processes recovering the
        same row at once, one gets it.

        :returns: the entry as claimed, or None if another process did
        """
        old = entry.owner
        with self._connection() as connection:
            cursor = connection.execute(
                'UPDATE moves SET owner_host = ?, owner_pid = ?, '
                'owner_started = ?, owner_boot = ?, updated_at = ? '
                'WHERE id = ? AND owner_host = ? AND owner_pid = ? '
                'AND owner_started IS ? AND owner_boot IS ?',
                (owner.host, owner.pid, owner.started, owner.boot,
                 self.clock(), entry.id, old.host, old.pid, old.started,
                 old.boot))
            if cursor.rowcount != 1:
                return None
        return dataclasses.replace(entry, owner=owner)


class InFlight(object):
    """The row of one move under way, as its move keeps it up to date.

    Only the first write (before the move request) may fail the action;
    once Nova may be moving the server, a failed write is logged and the
    move goes on: stopping it for the journal would leave more behind.
    """

    def __init__(self, store, entry):
        self.store = store
        self.entry = entry
        self._ended = False

    def _write(self, what, write):
        if self._ended:
            return
        try:
            write()
        except JournalError as e:
            LOG.warning('Server %s: %s; the move goes on without its %s in '
                        'the journal', self.entry.label, e, what)

    def known(self, migration_id):
        """Nova's record of the move is ``migration_id``."""
        if migration_id == self.entry.migration_id:
            return
        self.entry = dataclasses.replace(self.entry,
                                         migration_id=migration_id)
        self._write('migration id', lambda: self.store.update(
            self.entry.id, migration_id=migration_id))

    def phase(self, phase):
        """The move entered ``phase`` (confirming, stopping, reverting)."""
        if phase == self.entry.phase:
            return
        self.entry = dataclasses.replace(self.entry, phase=phase)
        self._write('phase', lambda: self.store.update(self.entry.id,
                                                       phase=phase))

    def ended(self):
        """The move has ended: nothing of it is left in Nova."""
        self._write('end', lambda: self.store.remove(self.entry.id))
        self._ended = True
