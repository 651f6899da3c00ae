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

"""What the fake virt driver does, without Nova: settings and the copy.

Behaviour (durations, failures, progress figures) is set per instance
uuid, with a default, in the module-level :data:`REGISTRY`, which also
records wall-clock events per instance for benchmarks.
:func:`run_live_copy` is the clock of a live migration's copy: when it
ends and when its figures are saved.

A running live migration's figures are saved as Nova's libvirt driver
saves them (``_live_migration_monitor``): once as soon as the copy runs,
then every ``[libvirt] live_migration_monitor_interval`` seconds (5 by
default) while it runs, never on completion. Nova's other drivers save
none: interval 0.

Stdlib only, so that it is testable outside the Nova process.
"""

import copy
import threading
import time


DEFAULT_BEHAVIOUR = {
    # Seconds a live migration runs before it completes (or fails).
    'live_duration': 0.0,
    # Per instance only: the seconds of its next moves, one per move
    # (live copy or cold power-off), in order; each move takes the first
    # in place of live_duration or cold_duration. Real copies' lengths
    # vary: a benchmark gives every poller's phase a fair draw with them.
    'next_durations': [],
    # None, 'rollback' (recover_method: migration 'failed', server back
    # ACTIVE on the source, as libvirt does) or 'raise' (migration
    # 'error', server ERROR).
    'live_fail': None,
    # None, or the fraction of the memory copy (0 <= f < 1) at which a
    # live migration stops converging: its figures stay there and it
    # runs until aborted or force-completed, like a guest dirtying its
    # memory faster than the copy.
    'live_stall_at': None,
    # None, or the fraction of the memory copy (0 <= f < 1) from which
    # the guest dirties its memory as fast as it is copied: memory
    # processed keeps growing at the copy's rate while memory remaining
    # goes down and back up around where it was (each pass copies what
    # the last one left dirty), and the copy runs until aborted or
    # force-completed. Not with live_stall_at.
    'live_dirty_at': None,
    # Figures written on the migration record while it runs.
    'memory_bytes': 1 << 30,
    'disk_bytes': 0,
    # Seconds between two saves of them, as libvirt's knob of that name
    # (default 5); 0 saves none, as Nova's other drivers.
    'live_migration_monitor_interval': 5.0,
    # Seconds spent in migrate_disk_and_power_off.
    'cold_duration': 0.0,
    # False, True / 'error' (server ERROR) or 'rollback' (server stays
    # ACTIVE on the source); the migration ends 'error' either way.
    'cold_fail': False,
    'confirm_fail': False,
}

_LIVE_FAIL_VALUES = (None, 'rollback', 'raise')
_COLD_FAIL_VALUES = (False, True, 'error', 'rollback')
# Fields of older versions, refused with the name that replaced them.
_RENAMED = {'progress_interval': 'live_migration_monitor_interval'}
# What a number field means, for its error message.
_NUMBER_HINTS = {
    'live_migration_monitor_interval':
        ' (seconds between two saves of the figures; 0: save none)',
}


class LiveMigration(object):
    """Control block of one running live migration."""

    def __init__(self):
        self.wakeup = threading.Event()
        self.action = None

    def request(self, action):
        # First request wins: abort and force-complete do not stack.
        if self.action is None:
            self.action = action
        self.wakeup.set()


class DriverRegistry(object):
    """Thread-safe behaviour settings, running migrations and events."""

    def __init__(self):
        self._lock = threading.Lock()
        self._default = dict(DEFAULT_BEHAVIOUR)
        self._per_instance = {}
        self._running = {}
        self._events = []

    # -- behaviour ---------------------------------------------------------

    @staticmethod
    def _validate(fields):
        for old, new in sorted(_RENAMED.items()):
            if old in fields:
                raise ValueError('%s is now %s (0: no figures at all)'
                                 % (old, new))
        unknown = set(fields) - set(DEFAULT_BEHAVIOUR)
        if unknown:
            raise ValueError('unknown behaviour fields: %s'
                             % ', '.join(sorted(unknown)))
        if fields.get('live_fail', None) not in _LIVE_FAIL_VALUES:
            raise ValueError('live_fail must be one of %s'
                             % (_LIVE_FAIL_VALUES,))
        if fields.get('cold_fail', False) not in _COLD_FAIL_VALUES:
            raise ValueError('cold_fail must be one of %s'
                             % (_COLD_FAIL_VALUES,))
        for key in ('live_duration', 'cold_duration',
                    'live_migration_monitor_interval', 'memory_bytes',
                    'disk_bytes'):
            if key in fields:
                value = fields[key]
                if (isinstance(value, bool) or
                        not isinstance(value, (int, float)) or value < 0):
                    raise ValueError('%s must be a number >= 0%s, not %r'
                                     % (key, _NUMBER_HINTS.get(key, ''),
                                        value))
        durations = fields.get('next_durations', [])
        if not isinstance(durations, (list, tuple)) or any(
                isinstance(value, bool) or
                not isinstance(value, (int, float)) or value < 0
                for value in durations):
            raise ValueError('next_durations must be a list of numbers '
                             '>= 0 (seconds of the next moves), not %r'
                             % (durations,))
        for key in ('live_stall_at', 'live_dirty_at'):
            stall = fields.get(key)
            if stall is not None and (
                    isinstance(stall, bool) or
                    not isinstance(stall, (int, float)) or
                    not 0 <= stall < 1):
                raise ValueError('%s must be None or a number >= 0 and < 1'
                                 % key)

    def configure(self, instance=None, **fields):
        """Set behaviour for one instance uuid, or the default (None)."""
        self._validate(fields)
        if instance is None and fields.get('next_durations'):
            raise ValueError('next_durations are per instance: they are '
                             "used up by that instance's moves")
        with self._lock:
            merged = dict(self._default)
            if instance is not None:
                merged.update(self._per_instance.get(instance, {}))
            merged.update(fields)
            if merged['live_stall_at'] is not None and \
                    merged['live_dirty_at'] is not None:
                raise ValueError('live_stall_at and live_dirty_at are two '
                                 'ways of not converging: set one')
            if instance is None:
                self._default.update(fields)
            else:
                self._per_instance.setdefault(instance, {}).update(fields)

    def reset(self):
        """Forget all behaviour settings (running migrations go on)."""
        with self._lock:
            self._default = dict(DEFAULT_BEHAVIOUR)
            self._per_instance = {}

    def _merged(self, instance_uuid):
        # Under self._lock.
        result = dict(self._default)
        result.update(self._per_instance.get(instance_uuid, {}))
        return result

    def behaviour(self, instance_uuid):
        with self._lock:
            return self._merged(instance_uuid)

    def take_behaviour(self, instance_uuid, kind):
        """The behaviour of one move starting now: ``kind`` live or cold.

        Its duration is the first of the instance's next_durations, which
        it uses up, if any are left.
        """
        with self._lock:
            result = self._merged(instance_uuid)
            durations = result['next_durations']
            if durations:
                result['%s_duration' % kind] = float(durations[0])
                # A new list: the one configure() was given stays as is.
                result['next_durations'] = self._per_instance[
                    instance_uuid]['next_durations'] = list(durations[1:])
            return result

    def settings(self):
        with self._lock:
            return {'default': dict(self._default),
                    'instances': copy.deepcopy(self._per_instance)}

    # -- running live migrations -------------------------------------------

    def live_started(self, instance_uuid):
        control = LiveMigration()
        with self._lock:
            self._running[instance_uuid] = control
        return control

    def live_ended(self, instance_uuid, control):
        with self._lock:
            if self._running.get(instance_uuid) is control:
                del self._running[instance_uuid]

    def request(self, instance_uuid, action):
        with self._lock:
            control = self._running.get(instance_uuid)
        if control is not None:
            control.request(action)
        return control is not None

    # -- events ------------------------------------------------------------

    def record(self, event, instance_uuid, **details):
        entry = {'event': event, 'instance': instance_uuid,
                 'time': time.time()}
        entry.update(details)
        with self._lock:
            self._events.append(entry)
        return entry

    def events(self, instance_uuid=None):
        with self._lock:
            events = list(self._events)
        if instance_uuid is not None:
            events = [e for e in events if e['instance'] == instance_uuid]
        return events

    def reset_events(self):
        with self._lock:
            self._events = []


REGISTRY = DriverRegistry()


# A guest dirtying its memory as fast as it is copied (live_dirty_at):
# the copy's passes over what is left dirty each span this many saves of
# the figures, the remaining memory falling by DIRTY_PASS_FALL of where
# it stuck at each save of a pass, then back up at the next pass. Whole
# saves per pass, so that every pass shows the same figures.
DIRTY_PASS_SAVES = 4
DIRTY_PASS_FALL = 0.1


def dirty_remaining(level, saves):
    """Remaining fraction at the ``saves``-th save since ``level`` done."""
    left = 1.0 - level
    return left - left * DIRTY_PASS_FALL * (saves % DIRTY_PASS_SAVES)


def run_live_copy(behaviour, control, save, clock=time.monotonic):
    """Run a live copy until it is done or ``control`` is woken.

    :param behaviour: the instance's behaviour fields
    :param control: its :class:`LiveMigration` (abort, force-complete)
    :param save: ``f(fraction)`` saving the figures of the copy's
        fraction done, called at the libvirt driver's cadence; of a copy
        that does not converge by dirtying (live_dirty_at),
        ``f(processed, remaining)``, fractions of the memory (processed
        grows past 1: pages copied again)
    :returns: True if the copy completed, False if woken before
    """
    duration = float(behaviour['live_duration'])
    interval = float(behaviour['live_migration_monitor_interval'])
    stall = behaviour['live_stall_at']
    dirty = behaviour['live_dirty_at']
    start = clock()
    end = start + duration
    next_save = start
    dirty_saves = 0
    while True:
        now = clock()
        done = 1.0 if duration <= 0 else (now - start) / duration
        fraction = min(1.0, done)
        stalled = stall is not None and fraction >= stall
        if stalled:
            fraction = stall
        dirtying = dirty is not None and done >= dirty
        stalled = stalled or dirtying
        if fraction >= 1.0 and not dirtying:
            # libvirt saves nothing more once the copy is done.
            return True
        if interval and now >= next_save:
            if dirtying:
                save(done, dirty_remaining(dirty, dirty_saves))
                dirty_saves += 1
            else:
                save(fraction)
            # On a fixed schedule from the start, as libvirt's monitor
            # loop counts its turns.
            while next_save <= now:
                next_save += interval
        if stalled:
            wake = next_save if interval else None
        else:
            wake = min(next_save, end) if interval else end
        if control.wakeup.wait(None if wake is None
                               else max(0.0, wake - now)):
            return False
