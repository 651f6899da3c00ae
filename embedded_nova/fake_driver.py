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

"""A scriptable fake virt driver for the embedded Nova.

Behaviour (durations, failures, progress figures) is set per instance
uuid, with a default, in the module-level :data:`REGISTRY`. The driver
also records wall-clock events per instance for benchmarks.

This module imports nova: import it only inside the Nova process, after
the concurrency mode has been chosen.
"""

import copy
import threading
import time

from nova import exception
from nova.virt import fake

# Name under which nova's driver loader (``nova.virt.<compute_driver>``)
# finds this module; server.py registers it in sys.modules.
NOVA_MODULE_NAME = 'nova.virt.watcher_migrate_fake'
COMPUTE_DRIVER = 'watcher_migrate_fake.WatcherMigrateFakeDriver'

DEFAULT_BEHAVIOUR = {
    # Seconds a live migration runs before it completes (or fails).
    'live_duration': 0.0,
    # None, 'rollback' (recover_method: migration 'failed', server back
    # ACTIVE on the source, as libvirt does) or 'raise' (migration
    # 'error', server ERROR).
    'live_fail': None,
    # None, or the fraction of the memory copy (0 <= f < 1) at which a
    # live migration stops converging: its figures stay there and it
    # runs until aborted or force-completed, like a guest dirtying its
    # memory faster than the copy.
    'live_stall_at': None,
    # Figures written on the migration record while it runs.
    'memory_bytes': 1 << 30,
    'disk_bytes': 0,
    'progress_interval': 0.5,
    # Seconds spent in migrate_disk_and_power_off.
    'cold_duration': 0.0,
    # False, True / 'error' (server ERROR) or 'rollback' (server stays
    # ACTIVE on the source); the migration ends 'error' either way.
    'cold_fail': False,
    'confirm_fail': False,
}

_LIVE_FAIL_VALUES = (None, 'rollback', 'raise')
_COLD_FAIL_VALUES = (False, True, 'error', 'rollback')


class InjectedFailure(Exception):
    """Raised by the fake driver when told to fail."""


class _LiveMigration(object):
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
        for key in ('live_duration', 'cold_duration', 'progress_interval',
                    'memory_bytes', 'disk_bytes'):
            if key in fields:
                value = fields[key]
                if (isinstance(value, bool) or
                        not isinstance(value, (int, float)) or value < 0):
                    raise ValueError('%s must be a number >= 0' % key)
        if fields.get('progress_interval', 1) == 0:
            raise ValueError('progress_interval must be > 0')
        stall = fields.get('live_stall_at')
        if stall is not None and (
                isinstance(stall, bool) or
                not isinstance(stall, (int, float)) or not 0 <= stall < 1):
            raise ValueError('live_stall_at must be None or a number '
                             '>= 0 and < 1')

    def configure(self, instance=None, **fields):
        """Set behaviour for one instance uuid, or the default (None)."""
        self._validate(fields)
        with self._lock:
            if instance is None:
                self._default.update(fields)
            else:
                self._per_instance.setdefault(instance, {}).update(fields)

    def reset(self):
        """Forget all behaviour settings (running migrations go on)."""
        with self._lock:
            self._default = dict(DEFAULT_BEHAVIOUR)
            self._per_instance = {}

    def behaviour(self, instance_uuid):
        with self._lock:
            result = dict(self._default)
            result.update(self._per_instance.get(instance_uuid, {}))
            return result

    def settings(self):
        with self._lock:
            return {'default': dict(self._default),
                    'instances': copy.deepcopy(self._per_instance)}

    # -- running live migrations -------------------------------------------

    def live_started(self, instance_uuid):
        control = _LiveMigration()
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


class WatcherMigrateFakeDriver(fake.FakeDriver):
    """FakeDriver whose migrations take time, report progress and fail.

    Sized for about 100 m1.tiny servers per host.
    """

    vcpus = 128
    memory_mb = 65536
    local_gb = 2048

    def __init__(self, virtapi, read_only=False):
        super().__init__(virtapi, read_only)
        # CONF.host is this compute's host while its service starts.
        self._host = self.host_status_base['hypervisor_hostname']

    # -- live migration ----------------------------------------------------

    @staticmethod
    def _write_progress(migration, fraction, behaviour):
        if migration is None:
            return
        memory = int(behaviour['memory_bytes'])
        disk = int(behaviour['disk_bytes'])
        mem_done = int(memory * fraction)
        disk_done = int(disk * fraction)
        migration.memory_total = memory
        migration.memory_processed = mem_done
        migration.memory_remaining = memory - mem_done
        migration.disk_total = disk
        migration.disk_processed = disk_done
        migration.disk_remaining = disk - disk_done
        migration.save()

    def live_migration(self, context, instance, dest,
                       post_method, recover_method, block_migration=False,
                       migrate_data=None):
        uuid = instance.uuid
        behaviour = REGISTRY.behaviour(uuid)
        migration = getattr(migrate_data, 'migration', None)
        control = REGISTRY.live_started(uuid)
        REGISTRY.record('live_migration_started', uuid, source=self._host,
                        dest=dest, migration=getattr(migration, 'uuid', None))
        duration = float(behaviour['live_duration'])
        interval = float(behaviour['progress_interval'])
        stall = behaviour['live_stall_at']
        start = time.monotonic()
        try:
            while True:
                elapsed = time.monotonic() - start
                fraction = 1.0 if duration <= 0 else min(1.0,
                                                         elapsed / duration)
                stalled = stall is not None and fraction >= stall
                if stalled:
                    fraction = stall
                try:
                    self._write_progress(migration, fraction, behaviour)
                except Exception:
                    # Progress is cosmetic: never let it kill the migration.
                    pass
                if fraction >= 1.0:
                    break
                wait = interval if stalled else min(interval,
                                                    duration - elapsed)
                if control.wakeup.wait(wait):
                    break
        finally:
            REGISTRY.live_ended(uuid, control)

        outcome = None
        try:
            if control.action == 'abort':
                outcome = 'cancelled'
                recover_method(context, instance, dest, migrate_data,
                               migration_status='cancelled')
            elif control.action == 'force_complete':
                outcome = 'completed'
                post_method(context, instance, dest, block_migration,
                            migrate_data)
            elif behaviour['live_fail'] == 'raise':
                outcome = 'error'
                raise InjectedFailure('injected live migration failure of '
                                      'instance %s' % uuid)
            elif behaviour['live_fail'] == 'rollback':
                outcome = 'failed'
                recover_method(context, instance, dest, migrate_data)
            else:
                outcome = 'completed'
                post_method(context, instance, dest, block_migration,
                            migrate_data)
        except Exception as exc:
            if outcome != 'error':
                outcome = 'exception: %s' % exc
            raise
        finally:
            REGISTRY.record('live_migration_finished', uuid,
                            source=self._host, dest=dest, outcome=outcome,
                            forced=control.action == 'force_complete')

    def live_migration_abort(self, instance):
        REGISTRY.request(instance.uuid, 'abort')

    def live_migration_force_complete(self, instance):
        REGISTRY.request(instance.uuid, 'force_complete')

    def post_live_migration(self, context, instance, block_device_info,
                            migrate_data=None):
        # Runs on the source: the guest now lives on the destination.
        self.destroy(context, instance, network_info=None,
                     block_device_info=block_device_info)

    # -- cold migration ----------------------------------------------------

    def migrate_disk_and_power_off(self, context, instance, dest,
                                   flavor, network_info,
                                   block_device_info=None,
                                   timeout=0, retry_interval=0):
        uuid = instance.uuid
        behaviour = REGISTRY.behaviour(uuid)
        # ``dest`` is the destination's IP address here, not its name.
        REGISTRY.record('cold_migration_started', uuid, source=self._host,
                        dest_ip=dest)
        if behaviour['cold_duration']:
            time.sleep(float(behaviour['cold_duration']))
        fail = behaviour['cold_fail']
        if fail:
            REGISTRY.record('cold_migration_finished', uuid,
                            source=self._host, dest_ip=dest, outcome='error')
            message = 'injected cold migration failure of instance %s' % uuid
            if fail == 'rollback':
                raise exception.InstanceFaultRollback(
                    inner_exception=InjectedFailure(message))
            raise InjectedFailure(message)
        return super().migrate_disk_and_power_off(
            context, instance, dest, flavor, network_info,
            block_device_info=block_device_info, timeout=timeout,
            retry_interval=retry_interval)

    def finish_migration(self, context, migration, instance, disk_info,
                         network_info, image_meta, resize_instance,
                         allocations, block_device_info=None, power_on=True,
                         share_info=None):
        super().finish_migration(
            context, migration, instance, disk_info, network_info,
            image_meta, resize_instance, allocations,
            block_device_info=block_device_info, power_on=power_on,
            share_info=share_info)
        # Runs on the destination; nova marks VERIFY_RESIZE right after.
        REGISTRY.record('cold_migration_finished', instance.uuid,
                        source=migration.source_compute, dest=self._host,
                        outcome='finished')

    def confirm_migration(self, context, migration, instance, network_info):
        uuid = instance.uuid
        if REGISTRY.behaviour(uuid)['confirm_fail']:
            REGISTRY.record('confirm_done', uuid, host=self._host,
                            outcome='error')
            raise InjectedFailure('injected confirm failure of instance %s'
                                  % uuid)
        super().confirm_migration(
            context, migration, instance, network_info)
        REGISTRY.record('confirm_done', uuid, host=self._host,
                        outcome='confirmed')
