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

"""Finish or stop, with what Nova shows, the moves of dead processes.

Each journal entry whose owner is gone (same host, and its pid no longer
runs or runs another process) is claimed by this process and settled by
the move code itself (``moves``), as its owner would have:

- a move Nova shows ended (or never started) is logged and dropped;
- a live migration still running is followed within what is left of its
  deadline, then its timeout_action is applied (abort or force-complete);
- a cold migration is followed to VERIFY_RESIZE and confirmed (unless
  auto_confirm is off), or reverted if it was being stopped;
- one whose owner was stopping it is stopped.

Entries of a live owner are never touched; those of another host are
left alone and reported (only that host can tell whether their owner
lives). Entries are settled at once, each in a thread of its own: one long
live migration left behind does not hold up the others. ``recover`` is
what ``watcher-migrate recover`` runs; ``Recovering`` what the process's
first move starts (``context.ProcessContext.journal``), behind the moves.
"""

from concurrent import futures
import dataclasses
import threading
import time

from oslo_log import log

from watcher_migrate import journal
from watcher_migrate import moves
from watcher_migrate import options
from watcher_migrate import parameters
from watcher_migrate import phases

LOG = log.getLogger(__name__)

#: What a survey says of an entry's owner.
OWNER_RUNNING = 'owner running'
OTHER_HOST = 'owner on another host'
ORPHANED = 'owner gone'

# Names the deadline in the messages of a recovered move's timeout.
DEADLINE_KNOB = 'journal deadline'


@dataclasses.dataclass(frozen=True)
class Finding:
    """One journal entry, whose owner it has, and what is (to be) done.

    :param done: what recovery did (None: nothing yet, or dry run)
    """

    entry: journal.Entry
    owner_state: str
    done: str = None

    @property
    def recoverable(self):
        return self.owner_state == ORPHANED

    def age(self, now):
        return now - self.entry.created_at


def survey(store):
    """Every entry of ``store`` with its owner's state; reads only."""
    findings = []
    for entry in store.entries():
        owner = entry.owner
        if not owner.local:
            state = OTHER_HOST
        elif owner.alive():
            state = OWNER_RUNNING
        else:
            state = ORPHANED
        findings.append(Finding(entry, state))
    return findings


def intent(finding, now):
    """What recovery will do with the finding's move, in words."""
    entry = finding.entry
    if finding.owner_state == OWNER_RUNNING:
        return 'leave it: its owner is running'
    if finding.owner_state == OTHER_HOST:
        return 'leave it: recover it on %s' % entry.owner.host
    if entry.phase in (journal.STOPPING, journal.REVERTING):
        return ('abort it' if entry.live else
                'revert it once Nova settles') + ', or drop it if it ended'
    left = entry.deadline - now
    if entry.live:
        then = ('force it to complete' if entry.timeout_action
                == options.TIMEOUT_FORCE_COMPLETE else 'abort it')
        if left <= 0:
            return '%s (deadline passed %.0f s ago), or drop it if it ' \
                'ended' % (then, -left)
        return 'follow it for the %.0f s left of its deadline, then %s; ' \
            'drop it if it ended' % (left, then)
    if left <= 0:
        return 'confirm it if at VERIFY_RESIZE, else revert it once Nova ' \
            'settles (deadline passed %.0f s ago); drop it if it ended' % (
                -left)
    return 'follow it to VERIFY_RESIZE for the %.0f s left of its ' \
        'deadline and confirm it, else revert it; drop it if it ended' % left


class Recovery(object):
    """Settles the orphaned entries of one journal through one gateway.

    :param gateway: a ``NovaGateway``
    :param settings: ``options.Settings`` of the recovering process (its
        poll intervals, settle_timeout, auto_confirm); each entry's own
        timeout_action and deadline apply
    :param store: the ``journal.Journal``
    """

    def __init__(self, gateway, settings, store, wall=time.time):
        self.gateway = gateway
        self.settings = settings
        self.store = store
        self.wall = wall

    def run(self, dry_run=False):
        """Survey the journal and settle each orphaned entry, all at once.

        :returns: the ``Finding``s, with what was done
        """
        findings = self.survey()
        if dry_run:
            return findings
        settled = self.settle_all(self.claim_orphans(findings))
        return [settled.get(f.entry.id) or dataclasses.replace(
            f, done='left alone: %s' % f.owner_state) for f in findings]

    def survey(self):
        """``survey(store)``, saying which entries are another host's."""
        findings = survey(self.store)
        for finding in findings:
            if finding.owner_state == OTHER_HOST:
                LOG.warning('Server %s: %s migration in the journal %s is '
                            'owned by %s, another host: left for a recovery '
                            'there', finding.entry.label,
                            finding.entry.migration_type, self.store.path,
                            finding.entry.owner)
        return findings

    def claim_orphans(self, findings):
        """Take over the orphans: [(finding, claimed entry or None)]."""
        return [(f, self.claim(f.entry)) for f in findings if f.recoverable]

    def settle_all(self, claimed, on_settled=None):
        """Settle claimed orphans at once, each in a thread of its own.

        :param claimed: what ``claim_orphans`` returned
        :param on_settled: ``f(finding)`` called as each one is settled
        :returns: {entry id: the finding with what was done}
        """
        def settle(pair):
            finding, entry = pair
            try:
                done = ('taken over by another process' if entry is None
                        else self.settle_claimed(finding.entry, entry))
                return dataclasses.replace(finding, done=done)
            finally:
                if on_settled is not None:
                    on_settled(finding)
        settled = {}
        if claimed:
            with futures.ThreadPoolExecutor(
                    len(claimed), thread_name_prefix='recovery') as pool:
                for (finding, _), result in zip(claimed,
                                                pool.map(settle, claimed)):
                    settled[finding.entry.id] = result
        return settled

    def claim(self, entry):
        """Take ``entry`` over for this process; None if another did."""
        claimed = self.store.claim(entry, journal.Owner.current())
        if claimed is None:
            LOG.info('Server %s: the journal entry of its %s migration was '
                     'taken over by another process', entry.label,
                     entry.migration_type)
            return None
        LOG.warning('Server %s: %s migration%s from %s to %s of %s, a '
                    'process that is gone, is in the journal (phase %s): '
                    'settling it', entry.label, entry.migration_type,
                    _number(entry), entry.source,
                    entry.destination or 'a host chosen by the scheduler',
                    entry.owner, entry.phase)
        return claimed

    def settle_claimed(self, entry, claimed):
        """Settle the move of an entry this process claimed."""
        try:
            done = self._settle(claimed)
        except Exception as e:
            # Given back, so that the next recovery tries again.
            LOG.warning('Server %s: recovery of migration%s failed: %s; its '
                        'journal entry is left for the next recovery',
                        entry.label, _number(entry), e)
            self.store.claim(claimed, entry.owner)
            return 'failed: %s' % e
        LOG.info('Server %s: recovered migration%s: %s', entry.label,
                 _number(entry), done)
        return done

    def _settle(self, entry):
        request = parameters.MigrationRequest(
            server_id=entry.server_id, migration_type=entry.migration_type,
            source_node=entry.source,
            destination_node=entry.destination or None,
            server_name=entry.server_name)
        settings = options.Settings(dict(
            self.settings.as_dict(), timeout_action=entry.timeout_action))
        move = moves.build(self.gateway, request, settings, entry.source,
                           action_uuid=entry.action_uuid)
        move.in_flight = journal.InFlight(self.store, entry)
        server = self.gateway.get_server(entry.server_id)
        if server is None:
            move.journal_ended()
            return 'the server no longer exists; entry dropped'
        tracker = move.tracker
        tracker.watch(server)
        try:
            tracker.resume(entry.source, entry.migration_id,
                           entry.created_at)
            look = tracker.look(with_server=True)
            if not _under_way(look, entry.live):
                move.journal_ended()
                if look.migration is None:
                    return ('Nova shows no move (its request never reached '
                            'Nova): %s; entry dropped'
                            % tracker.describe(look))
                return 'it had ended: %s; entry dropped' % (
                    tracker.describe(look))
            outcome = self._finish(move, entry, server, look)
        finally:
            tracker.unwatch()
        move.journal_ended()
        return ('%s: %s' % ('succeeded' if outcome.ok else 'stopped',
                            outcome.reason))

    def _finish(self, move, entry, server, look):
        label = entry.label
        migration = look.migration
        number = migration.id if migration is not None else None
        if entry.phase in (journal.STOPPING, journal.REVERTING):
            LOG.warning('Server %s: its owner was stopping migration %s '
                        '(%s): stopping it', label, number, look.status)
            return move.stop()
        left = entry.deadline - self.wall()
        if left > 0:
            LOG.info('Server %s: following %s migration %s (%s) for the '
                     '%.0f s left of its deadline', label,
                     entry.migration_type, number, look.status, left)
        else:
            LOG.warning('Server %s: %s migration %s (%s) is %.0f s past its '
                        'deadline', label, entry.migration_type, number,
                        look.status, -left)
        # The status the server had before the move: a confirmed cold
        # migration must leave it so.
        before = dataclasses.replace(
            server, status=entry.status_before or server.status)
        return move.follow(max(left, 0.0), DEADLINE_KNOB, before)


def _under_way(look, live):
    """Whether Nova still has something of the move to settle."""
    if phases.leftover(look, live, auto_confirm=True):
        return True
    server = look.server
    if server is None:
        return False
    return (server.task_state in phases.MOVE_TASK_STATES
            or server.status == phases.VERIFY_RESIZE)


def _number(entry):
    if entry.migration_id is None:
        return ''
    return ' %s' % entry.migration_id


def recover(gateway, settings, store, dry_run=False):
    """Settle what dead processes left in ``store``; the findings."""
    return Recovery(gateway, settings, store).run(dry_run=dry_run)


class Recovering(object):
    """The recovery a process's first move starts, behind the moves.

    The journal is surveyed and its orphans claimed at once; they are
    then settled in the background, so that the new actions do not wait
    for a live migration left behind to reach its deadline. Only a new
    move of a server being recovered waits (``wait_for``): Nova would
    refuse it while the old one is under way. Failures are logged; the
    new actions go on.

    :raises journal.JournalError: the journal cannot be used (the move
        could not be recorded either)
    """

    def __init__(self, gateway, settings, store, wall=time.time):
        self._settle_timeout = settings.settle_timeout
        self._wall = wall
        self._lock = threading.Lock()
        # server id -> (Event set once settled, the entry's deadline)
        self._pending = {}
        recovery = Recovery(gateway, settings, store, wall)
        try:
            claimed = recovery.claim_orphans(recovery.survey())
        except journal.JournalError:
            raise
        except Exception:
            LOG.exception('Recovery of the moves of dead processes in %s '
                          'failed; the new action goes on', store.path)
            return
        for finding, entry in claimed:
            if entry is not None:
                self._pending[entry.server_id] = (threading.Event(),
                                                  entry.deadline)
        threading.Thread(target=self._run, name='recovery', daemon=True,
                         args=(recovery, claimed, store.path)).start()

    def _run(self, recovery, claimed, path):
        try:
            recovery.settle_all(claimed, on_settled=self._settled)
        except Exception:
            LOG.exception('Recovery of the moves of dead processes in %s '
                          'failed; the new actions go on', path)
        finally:
            with self._lock:
                pending, self._pending = self._pending, {}
            for settled, _deadline in pending.values():
                settled.set()

    def _settled(self, finding):
        with self._lock:
            pending = self._pending.pop(finding.entry.server_id, None)
        if pending is not None:
            pending[0].set()

    def wait_for(self, server_id):
        """Wait until the recovery of ``server_id`` (if any) has ended.

        At most what is left of its deadline and a settle_timeout (a
        stop after it) twice over; then the move goes on, and Nova
        refuses it if the old one still runs.
        """
        with self._lock:
            pending = self._pending.get(server_id)
        if pending is None:
            return
        settled, deadline = pending
        LOG.info('Server %s: waiting for the recovery of its earlier move',
                 server_id)
        bound = max(0.0, deadline - self._wall()) + 2 * self._settle_timeout
        if not settled.wait(bound):
            LOG.warning('Server %s: the recovery of its earlier move is '
                        'still running after %.0f s; moving it anyway',
                        server_id, bound)
