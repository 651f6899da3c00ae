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

"""A stock strategy end to end: Watcher's decision engine, then its applier.

An operator empties host1 for maintenance: a ONESHOT audit of the stock
``host_maintenance`` strategy (goal ``cluster_maintaining``,
``maintenance_node`` host1) runs in Watcher's own decision engine, which
collects its compute model from the real Nova and Placement over HTTP and
stores an action plan (disable host1's nova-compute, then a ``migrate``
per server). The plan is started as the API starts it and run by Watcher's
applier, once with the default ``taskflow`` engine (the built-in
``migrate``) and once with ``workflow_engine = nova_migrate`` (this
plugin's action for the same ``migrate`` actions). Nova's request log
tells which action class made the migration requests.

Each run has a cloud of its own (host1..host3): host_maintenance plans a
move for every server on the host, and the session's cloud keeps servers
of other tests there.
"""

import pytest

from embedded_watcher import audits
from embedded_watcher import deployment
from tests import embedded_cloud

HOSTS = ('host1', 'host2', 'host3')
MAINTAINED = 'host1'
GOAL = 'cluster_maintaining'
STRATEGY = 'host_maintenance'
ENGINES = (deployment.TASKFLOW, deployment.ALIAS_ENGINE)
# What this plugin's Nova client sends (python-novaclient's SessionClient);
# Watcher's own clients (openstacksdk) name the process instead.
PLUGIN_USER_AGENT = 'python-novaclient'
MIGRATION_ACTIONS = ('migrate', 'os-migrateLive')


class MaintenanceRun(object):
    """One host_maintenance audit of host1 and the applier run of its plan."""

    def __init__(self, cloud, site, engine):
        self.engine = engine
        cloud.enable_service(MAINTAINED)
        self.active = cloud.create_server(MAINTAINED, name='stock-active')
        self.stopped = cloud.create_server(MAINTAINED, name='stock-shutoff',
                                           stopped=True)
        self.paused = cloud.create_server(MAINTAINED, name='stock-paused',
                                          paused=True)
        self.names = {self.active: 'stock-active',
                      self.stopped: 'stock-shutoff',
                      self.paused: 'stock-paused'}
        self.hypervisors = dict(
            (h.hypervisor_hostname, h.id)
            for h in cloud.nova_client().hypervisors.list())
        cloud.reset_requests()
        try:
            self.audit = site.run_audit(GOAL, STRATEGY,
                                        {'maintenance_node': MAINTAINED})
            self.audit_requests = cloud.requests()
            if len(self.audit['action_plans']) != 1:
                raise audits.AuditError(
                    'audit %s made %d action plans\n%s' % (
                        self.audit['audit'], len(self.audit['action_plans']),
                        deployment._tail(self.audit['log_file'])))
            [plan] = self.audit['action_plans']
            self.plan_uuid = plan['uuid']
            self.planned = plan['actions']
            plan = site.start_plan(self.plan_uuid)
            site.run_applier('threading', [plan], workflow_engine=engine)
            self.applier_requests = cloud.requests(len(self.audit_requests))
        finally:
            # The plan disables host1; the next run needs it back.
            cloud.enable_service(MAINTAINED)
        self.plan_state = site.plan_state(self.plan_uuid)
        self.actions = site.actions(self.plan_uuid)
        self.placements = dict(
            (uuid, cloud.server(uuid)) for uuid in self.names)

    def migration_requests(self):
        """The applier's requests that started a migration."""
        return [r for r in self.applier_requests
                if r['method'] == 'POST' and
                r['action'] in MIGRATION_ACTIONS]

    def migration_record_reads(self):
        """The applier's reads of Nova's migration records."""
        return [r for r in self.applier_requests
                if r['method'] == 'GET' and
                (r['path'].endswith('/os-migrations') or
                 r['path'].endswith('/migrations'))]


@pytest.fixture(scope='module', params=ENGINES)
def maintenance(request, tmp_path_factory):
    """host1 emptied by a host_maintenance audit, with each engine.

    Each engine gets a Nova of its own: the built-in leaves a server on
    host1, which the next audit would plan to move too.
    """
    with embedded_cloud.running_nova(
            tmp_path_factory.mktemp('stock-nova-%s' % request.param),
            HOSTS, tox_env='watcher') as cloud:
        site = audits.AuditSite(
            tmp_path_factory.mktemp('stock-watcher-%s' % request.param),
            cloud)
        embedded_cloud.show_on_failure(
            'stock strategy watcher.conf, decision engine and applier '
            'logs: %s' % site.directory)
        yield MaintenanceRun(cloud, site.create(), request.param)


def _migrates(run):
    return [a for a in run.planned if a['action_type'] == 'migrate']


def test_the_audit_succeeds_with_a_plan_waiting_to_be_started(maintenance):
    assert maintenance.audit['audit']['state'] == 'SUCCEEDED'
    assert [p['state'] for p in maintenance.audit['action_plans']] == [
        'RECOMMENDED']


def test_the_plan_first_disables_the_host_for_maintenance(maintenance):
    first = [a for a in maintenance.planned if not a['parents']]

    assert [(a['action_type'], a['input_parameters']) for a in first] == [
        ('change_nova_service_state',
         {'state': 'disabled', 'disabled_reason': 'watcher_maintaining',
          'resource_name': MAINTAINED,
          'resource_id': maintenance.hypervisors[MAINTAINED]})]


def test_the_plan_migrates_each_server_live_if_active_else_cold(
        maintenance):
    stored = sorted(a['input_parameters']['resource_id']
                    for a in _migrates(maintenance))
    shapes = dict((a['input_parameters']['resource_id'],
                   a['input_parameters']) for a in _migrates(maintenance))

    assert stored == sorted(maintenance.names)
    # host_maintenance moves every server that is not ACTIVE cold,
    # PAUSED ones included.
    for server, kind in ((maintenance.active, 'live'),
                         (maintenance.stopped, 'cold'),
                         (maintenance.paused, 'cold')):
        # No destination_node: the strategy leaves the choice to Nova's
        # scheduler; source_node is the service host (Watcher >= 16).
        assert shapes[server] == {
            'migration_type': kind, 'source_node': MAINTAINED,
            'resource_name': maintenance.names[server],
            'resource_id': server}


def test_the_audit_reads_every_hosts_inventory_from_placement(
        maintenance):
    inventories = sorted(set(
        r['path'] for r in maintenance.audit_requests
        if r['path'].startswith('/placement/') and r['status'] == 200 and
        r['path'].endswith('/inventories')))

    assert inventories == sorted(
        '/placement/resource_providers/%s/inventories' % uuid
        for uuid in maintenance.hypervisors.values())


def _states(run):
    return sorted((a['action_type'], a['state'])
                  for a in run.actions.values())


def _where(run, server):
    placed = run.placements[server]
    return (placed['OS-EXT-SRV-ATTR:host'] != MAINTAINED, placed['status'],
            placed['OS-EXT-STS:task_state'])


def test_the_plugin_empties_the_host_the_builtin_leaves_the_paused(
        maintenance):
    moved = [_where(maintenance, s) for s in (
        maintenance.active, maintenance.stopped, maintenance.paused)]

    if maintenance.engine == deployment.ALIAS_ENGINE:
        # Nova refuses to cold-migrate a PAUSED server; the plugin moves
        # it live instead, and it stays PAUSED.
        assert maintenance.plan_state == 'SUCCEEDED', maintenance.actions
        assert _states(maintenance) == [
            ('change_nova_service_state', 'SUCCEEDED'),
            ('migrate', 'SUCCEEDED'), ('migrate', 'SUCCEEDED'),
            ('migrate', 'SUCCEEDED')]
        assert moved == [(True, 'ACTIVE', None), (True, 'SHUTOFF', None),
                         (True, 'PAUSED', None)]
    else:
        # The built-in sends the cold migration, which Nova refuses (409).
        assert maintenance.plan_state == 'FAILED', maintenance.actions
        assert _states(maintenance) == [
            ('change_nova_service_state', 'SUCCEEDED'),
            ('migrate', 'FAILED'), ('migrate', 'SUCCEEDED'),
            ('migrate', 'SUCCEEDED')]
        assert moved == [(True, 'ACTIVE', None), (True, 'SHUTOFF', None),
                         (False, 'PAUSED', None)]


def test_the_engine_decides_which_action_requests_the_migrations(
        maintenance):
    requests = maintenance.migration_requests()
    by_plugin = [PLUGIN_USER_AGENT in (r['user_agent'] or '')
                 for r in requests]

    if maintenance.engine == deployment.ALIAS_ENGINE:
        assert sorted(r['action'] for r in requests) == [
            'migrate', 'os-migrateLive', 'os-migrateLive']
        assert by_plugin == [True] * 3, requests
    else:
        assert sorted(r['action'] for r in requests) == [
            'migrate', 'migrate', 'os-migrateLive']
        assert by_plugin == [False] * 3, requests


def test_only_the_plugin_follows_migrations_by_their_records(maintenance):
    reads = maintenance.migration_record_reads()

    if maintenance.engine == deployment.ALIAS_ENGINE:
        # This plugin follows a migration by its record; the built-in
        # only ever reads the server.
        assert reads, maintenance.applier_requests
        assert all(PLUGIN_USER_AGENT in r['user_agent'] for r in reads)
    else:
        assert reads == []
