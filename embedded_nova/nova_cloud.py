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

"""Boot the real Nova (API, conductor, scheduler, computes, Placement).

The wiring is Nova's own functional-test base class
(``ProviderUsageBaseTestCase``); this module only adjusts it for a
long-lived process serving several concurrent HTTP clients. Import it
only after the concurrency mode has been chosen (see server.py): importing
nova applies (or forbids) eventlet monkey patching.
"""

import contextlib
import logging
import sys
import threading
import types

import fixtures
import futurist
from nova.api import auth as nova_auth
from nova.compute import task_states
from nova.objects import instance as instance_obj
from nova import rpc as nova_rpc
from nova.tests import fixtures as nova_fixtures
from nova.tests.functional import integrated_helpers
from nova import utils as nova_utils
import oslo_messaging
from oslo_middleware import request_id as request_id_middleware
from placement import deploy as placement_deploy

from embedded_nova import fake_driver
from embedded_nova import transport_url

LOG = logging.getLogger(__name__)

# m1.tiny from nova's DefaultFlavorsFixture.
FLAVOR_ID = '1'


class _OneCellDatabases(nova_fixtures.CellDatabases):
    """CellDatabases without the global cell switching.

    The original flips a process-wide "current cell" under a reader/writer
    lock, which deadlocks under native threads with several concurrent API
    clients. With one cell every targeted context carries its own
    connection and untargeted code belongs to the default cell.
    """

    @contextlib.contextmanager
    def _wrap_target_cell(self, context, cell_mapping):
        with self._real_target_cell(context, cell_mapping) as cctxt:
            yield cctxt

    def _wrap_get_context_manager(self, context):
        connection = getattr(context, 'db_connection', None)
        return connection or self._default_ctxt_mgr


class _ProcessLogging(fixtures.Fixture):
    """Plain logging to stderr instead of nova's in-memory capture.

    Nova's StandardLogging keeps every record in memory and formats all
    DEBUG records: fine for a test, not for a long-lived process.
    """

    level = logging.INFO

    def _setUp(self):
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(
            '%(asctime)s %(levelname)s [%(name)s] %(message)s'))
        root.addHandler(handler)
        root.setLevel(self.level)
        for noisy in ('migrate.versioning.api', 'alembic',
                      'oslo_db.sqlalchemy', 'stevedore'):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        # nova.test reads self.stdlog.logger.output in a few helpers.
        self.logger = types.SimpleNamespace(output='')


class EmbeddedNovaCase(integrated_helpers.ProviderUsageBaseTestCase):
    """Nova's functional wiring, kept up instead of run as a test."""

    compute_driver = fake_driver.COMPUTE_DRIVER

    def __init__(self, api_paste_config, live_migration_slots=None,
                 notification_url=None):
        super().__init__('keep_running')
        self._api_paste_config = api_paste_config
        self._live_migration_slots = live_migration_slots
        self._notification_url = notification_url
        self._placement_app = None
        self._placement_app_lock = threading.Lock()

    def keep_running(self):
        """Placeholder test method; testtools needs one to instantiate."""

    def setUp(self):
        # Must be set before OSAPIFixture loads the paste pipeline.
        self.flags(api_paste_config=self._api_paste_config, group='wsgi')
        super().setUp()
        # The functional base polls idle executor threads every 10 ms,
        # which burns CPU in a process that lives for hours.
        futurist._thread.ThreadWorker.MAX_IDLE_FOR = 1
        # Default quotas (10 instances) are far too small for benchmarks.
        self.flags(instances=-1, cores=-1, ram=-1, group='quota')
        # The test default 'error' turns nova's own schema slips into
        # HTTP 500 (e.g. disk_*_bytes == 0 on a running migration, which
        # libvirt reports for shared storage). 'ignore' rather than the
        # production 'warn': validating every response costs ~10% CPU.
        self.flags(response_validation='ignore', group='api')
        self.useFixture(fixtures.MonkeyPatch(
            'nova.objects.instance.Instance.save',
            _recording_landings(instance_obj.Instance.save)))
        self.useFixture(fixtures.MonkeyPatch(
            'nova.api.auth.NovaKeystoneContext._create_context',
            _keeping_request_id(
                nova_auth.NovaKeystoneContext._create_context)))
        if self._live_migration_slots is not None:
            # Nova creates its live migration executor once per process,
            # at the first live migration, sized by this flag: every
            # embedded compute shares it. 0 would not mean unlimited: in
            # native threading mode nova 34 turns it into 5.
            self.flags(max_concurrent_live_migrations=int(
                self._live_migration_slots))
        if self._notification_url:
            self._publish_notifications(self._notification_url)

    def _publish_notifications(self, url):
        """Send the versioned notifications to the broker at ``url``.

        As a cloud running Watcher does (Watcher's devstack plugin): format
        ``both`` and an ``instance.update`` on every vm or task state
        change. Nova's fixtures stub ``nova.rpc.NOTIFIER`` with an
        in-memory fake; every versioned notification of this process (API,
        conductor, scheduler, all computes) goes through it at send time,
        so replacing it is enough. The unversioned ones stay in memory.
        """
        self.flags(notification_format='both',
                   notify_on_state_change='vm_and_task_state',
                   group='notifications')
        # Nova's exchange, as nova.config sets it for a real service (the
        # test base never does). Read when a transport is created: the
        # fake RPC bus, created in setUp, keeps its own.
        self.flags(control_exchange='nova')
        topics = list(nova_rpc.CONF.notifications.
                      versioned_notifications_topics)
        transport = oslo_messaging.get_notification_transport(
            nova_rpc.CONF, url=url)
        self.addCleanup(transport.cleanup)
        notifier = oslo_messaging.Notifier(
            transport, driver='messagingv2',
            serializer=nova_rpc.RequestContextSerializer(
                nova_rpc.JsonPayloadSerializer()),
            topics=topics,
            # One attempt: the default retries forever, which would hang
            # Nova's threads while the broker is down. A lost
            # notification is logged by oslo.messaging and dropped.
            retry=0)
        self.useFixture(fixtures.MonkeyPatch('nova.rpc.NOTIFIER', notifier))
        LOG.info('Publishing versioned notifications to %s (exchange nova, '
                 'topics %s)', transport_url.masked(url), ', '.join(topics))

    @property
    def image_id(self):
        return self.glance.image1['id']

    def wsgi_app(self):
        """The osapi_compute paste app (keystone stubbed by the fixture)."""
        return self.api_fixture.app()

    def placement_app(self):
        """The Placement WSGI app of this Nova, for serving over HTTP.

        Nova's fixture reaches Placement only through an in-process
        intercept; this is the same app (same configuration, database and
        policy) built once more, for clients in other processes.
        """
        with self._placement_app_lock:
            if self._placement_app is None:
                conf = self.placement.fixture.conf_fixture.conf
                self._placement_app = placement_deploy.deploy(conf)
            return self._placement_app

    def reset_notifications(self):
        # The notification fixture keeps every notification in memory.
        self.notifier.reset()


def _recording_landings(save):
    """Instance.save that records when a live-migrated server lands.

    nova-compute on the destination saves the server there with no task,
    expecting 'migrating': from that commit on, any reader sees the
    migration done. The moment is recorded (event live_migration_landed)
    as the benchmark's reference for detection latency.
    """
    def save_and_record(instance, *args, **kwargs):
        landing = (kwargs.get('expected_task_state') ==
                   task_states.MIGRATING and
                   'task_state' in instance.obj_what_changed() and
                   instance.task_state is None)
        result = save(instance, *args, **kwargs)
        if landing:
            fake_driver.REGISTRY.record(
                'live_migration_landed', instance.uuid, dest=instance.host,
                outcome='completed')
        return result
    return save_and_record


def _keeping_request_id(create_context):
    """The API fixture's context stub, with the id Nova answers a request.

    Real Nova's context takes the request id that compute_req_id put in
    the environ (``RequestContext.from_environ``): the id the API answers
    as x-openstack-request-id, and that every notification of the request
    carries. The fixture's stub made a new one.
    """
    def create(env, **kwargs):
        kwargs.setdefault('request_id',
                          env.get(request_id_middleware.ENV_REQUEST_ID))
        return create_context(env, **kwargs)
    return create


def register_driver():
    """Make the fake driver loadable as ``nova.virt.watcher_migrate_fake``.

    nova-compute loads ``nova.virt.<CONF.compute_driver>``.
    """
    sys.modules.setdefault(fake_driver.NOVA_MODULE_NAME, fake_driver)


def boot(hosts, api_paste_config, log_level=logging.INFO,
         live_migration_slots=None, notification_url=None):
    """Start Nova with one compute service per host; return the case.

    :param live_migration_slots: nova's max_concurrent_live_migrations
        for the whole process (None: nova's default, 1)
    :param notification_url: an oslo.messaging transport URL to publish
        Nova's versioned notifications to (None: they stay in memory)
    """
    register_driver()
    _ProcessLogging.level = log_level
    nova_fixtures.StandardLogging = _ProcessLogging
    if nova_utils.concurrency_mode_threading():
        nova_fixtures.CellDatabases = _OneCellDatabases
    case = EmbeddedNovaCase(api_paste_config, live_migration_slots,
                            notification_url)
    try:
        case.setUp()
        for host in hosts:
            case._start_compute(host)
    except BaseException:
        shutdown(case)
        raise
    return case


def shutdown(case):
    """Run the fixtures' cleanups; errors are logged, not raised."""
    try:
        case.doCleanups()
    except Exception:
        LOG.exception('Error while stopping Nova')
