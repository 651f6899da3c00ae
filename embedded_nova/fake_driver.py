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
uuid, with a default, in :data:`REGISTRY` (embedded_nova.driver_behaviour,
which also says when a live copy saves its figures). The driver also
records wall-clock events per instance for benchmarks.

A live copy's figures are saved where Nova's libvirt driver saves them
(``libvirt.migration.save_stats``): the migration record's memory_* and
disk_* (bytes) and the server's progress (percent of memory copied).

This module imports nova: import it only inside the Nova process, after
the concurrency mode has been chosen.
"""

import time

from nova import exception
from nova.virt import fake

from embedded_nova import driver_behaviour

# Name under which nova's driver loader (``nova.virt.<compute_driver>``)
# finds this module; server.py registers it in sys.modules.
NOVA_MODULE_NAME = 'nova.virt.watcher_migrate_fake'
COMPUTE_DRIVER = 'watcher_migrate_fake.WatcherMigrateFakeDriver'
# The behaviour settings and events, shared with the control API.
REGISTRY = driver_behaviour.REGISTRY


class InjectedFailure(Exception):
    """Raised by the fake driver when told to fail."""


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
    def _save_figures(migration, instance, fraction, behaviour,
                      remaining=None):
        """Save the copy's figures as libvirt's save_stats does.

        ``remaining`` (a fraction of the memory) is left to copy; None:
        what ``fraction`` has not copied.
        """
        memory = int(behaviour['memory_bytes'])
        disk = int(behaviour['disk_bytes'])
        mem_done = int(memory * fraction)
        disk_done = int(disk * min(1.0, fraction))
        mem_left = (memory - mem_done if remaining is None
                    else int(memory * remaining))
        if migration is not None:
            migration.memory_total = memory
            migration.memory_processed = mem_done
            migration.memory_remaining = mem_left
            migration.disk_total = disk
            migration.disk_processed = disk_done
            migration.disk_remaining = disk - disk_done
            migration.save()
        left = 100
        if memory:
            left = round(mem_left * 100 / memory)
        instance.progress = 100 - left
        instance.save()

    def live_migration(self, context, instance, dest,
                       post_method, recover_method, block_migration=False,
                       migrate_data=None):
        uuid = instance.uuid
        behaviour = REGISTRY.take_behaviour(uuid, 'live')
        migration = getattr(migrate_data, 'migration', None)
        control = REGISTRY.live_started(uuid)
        REGISTRY.record('live_migration_started', uuid, source=self._host,
                        dest=dest, migration=getattr(migration, 'uuid', None))

        def save(fraction, remaining=None):
            try:
                self._save_figures(migration, instance, fraction, behaviour,
                                   remaining)
            except Exception:
                # Figures are cosmetic: never let them kill the migration.
                pass

        try:
            driver_behaviour.run_live_copy(behaviour, control, save)
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
        behaviour = REGISTRY.take_behaviour(uuid, 'cold')
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
