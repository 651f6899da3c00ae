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

"""Run one workload with one variant through the real Watcher applier.

The bench process plays Watcher's API (embedded_watcher/deployment.py): it
writes the action plan into Watcher's database, clears the embedded
Nova's request log and driver events, starts one applier process
(embedded_watcher/applier_main.py) for the plan, and afterwards reads what
happened from three sources that the action under test cannot influence:
the applier's report (wall time, CPU seconds), Watcher's action rows
(state, ``updated_at``) and the embedded Nova's records (driver events,
compute API requests). The action itself is a black box loaded by the
applier.
"""

import os
import time

from embedded_watcher import deployment
from watcher import objects

from bench import broker
from bench import metrics
from bench import workloads


def nova_cpu_seconds(pid):
    """User + system CPU seconds of process ``pid`` (None if unknown)."""
    try:
        with open('/proc/%d/stat' % pid) as handle:
            fields = handle.read().rsplit(')', 1)[1].split()
    except (OSError, TypeError, IndexError):
        return None
    # utime and stime: fields 14 and 15 of stat(5), 12 and 13 after ')'.
    return (int(fields[11]) + int(fields[12])) / float(
        os.sysconf('SC_CLK_TCK'))


class Runner(object):
    """The servers, the cloud and the Watcher deployment of a bench run.

    :param broker_url: the transport URL of the broker the cloud publishes
        its notifications to, for the variants that listen (None: none)
    :param seed: what the moves' lengths are drawn from
        (:meth:`workloads.Workload.lengths`)
    """

    def __init__(self, cloud, site, mode='threading', log=None,
                 broker_url=None, seed=0):
        self.cloud = cloud
        self.seed = seed
        self.broker_url = broker_url
        self._pools = 0
        self.site = site
        self.mode = mode
        self.hosts = list(cloud.hosts)
        self.servers = []
        self.names = {}
        self.log = log or (lambda message: None)

    def boot(self, count):
        """Boot ``count`` servers spread over the hosts, once."""
        started = time.monotonic()
        new = []
        for index in range(len(self.servers), count):
            host = self.hosts[index % len(self.hosts)]
            name = 'bench-%02d' % index
            server = self.cloud.create_server(host, name=name, wait=False)
            self.names[server] = name
            new.append((server, host))
        for server, host in new:
            self.cloud.wait_for_server(server, 'ACTIVE', host=host,
                                       timeout=600, interval=1)
            self.servers.append(server)
        self.log('booted %d servers in %.0f s'
                 % (len(new), time.monotonic() - started))

    def settle(self, servers, timeout=600):
        """Wait until every server rests (ACTIVE, no task); their hosts."""
        where = {}
        for server in servers:
            info = self.cloud.wait_for_server(server, 'ACTIVE',
                                              timeout=timeout, interval=1)
            where[server] = info['OS-EXT-SRV-ATTR:host']
        return where

    def steps(self, workload, variant, where):
        steps = []
        for server, chain in workloads.moves(workload, self.servers, where,
                                             self.hosts):
            previous = None
            for source, destination in chain:
                step = deployment.Step(
                    server, workload.kind, source, destination,
                    after=[previous] if previous else (),
                    action_type=variant.action_type,
                    parameters=self.stock_parameters(workload, server,
                                                     source))
                steps.append(step)
                previous = step
        return steps

    def stock_parameters(self, workload, server, source):
        """host_maintenance's parameters, if the workload is so shaped."""
        if not workload.stock:
            return None
        return {'resource_id': server, 'migration_type': workload.kind,
                'source_node': source,
                'resource_name': self.names[server]}

    def action_rows(self, plan, steps, landed):
        """The actions as the applier left them, for bench.metrics.

        :param landed: server -> its host after the run, the destination
            of a move the scheduler chose
        """
        rows = []
        for uuid, step in zip(plan.action_uuids, steps):
            action = objects.Action.get_by_uuid(self.site.context, uuid)
            rows.append({'uuid': uuid, 'server': step.server,
                         'source': step.source,
                         'destination': (step.destination
                                         if not step.parameters
                                         else landed[step.server]),
                         'state': action.state,
                         'status_message': action.status_message,
                         'returned': metrics.epoch_seconds(
                             action.updated_at)})
        return rows

    def listening_options(self, variant):
        """[watcher_actions.nova_migrate] overrides of a variant's run.

        A listening run gets a queue (pool) of its own: it starts empty,
        with no backlog of the runs before.
        """
        self._pools += 1
        return variant.plugin_options(
            self.broker_url, 'watcher-migrate-bench-%02d' % self._pools)

    def drop_queue(self, options):
        """Delete a listening run's queue, which outlives the applier."""
        pool = options.get('notification_pool')
        if not pool:
            return
        try:
            broker.delete_queue(self.broker_url, pool)
        except Exception as exc:
            self.log('could not delete queue %s: %s' % (pool, exc))

    def run(self, workload, variant):
        """One applier run of ``workload`` with ``variant``: its row."""
        servers = self.servers[:workload.width]
        listening = self.listening_options(variant)
        where = self.settle(servers)
        lengths = [workload.lengths(self.seed, index)
                   for index in range(len(servers))]
        for server, mine in zip(servers, lengths):
            self.cloud.set_driver(instance=server,
                                  **workload.driver_behaviour(mine))
        steps = self.steps(workload, variant, where)
        plugin_options = dict(workload.plugin_options, **variant.settings)
        plan = self.site.create_plan(steps)
        self.cloud.reset_requests()
        self.cloud.reset_events()
        nova_cpu = nova_cpu_seconds(self.cloud.pid)
        started = time.time()
        error = error_detail = None
        try:
            report = self.site.run_applier(
                self.mode, [plan],
                plugin_defaults=deployment.REAL_DEFAULTS,
                nova_defaults={}, nova_options=variant.nova_options,
                max_workers=max(deployment.MAX_WORKERS, workload.width),
                applier_timeout=workload.applier_timeout(),
                workflow_engine=variant.workflow_engine,
                **dict(plugin_options, **listening))
        except deployment.ApplierError as exc:
            # The first line says how it ended; the rest is the logs' tail.
            error = str(exc).splitlines()[0]
            error_detail = str(exc)[-3000:]
            report = {'launched_at': started, 'finished_at': time.time(),
                      'plans_wall_seconds': None,
                      'plans_cpu_seconds': None}
        finally:
            self.drop_queue(listening)
        events = self.cloud.events()
        requests = self.cloud.requests()
        # After the request log is read: these reads are not counted.
        migrations = [m for server in servers
                      for m in self.cloud.migrations(server)
                      if metrics.epoch_seconds(m['created_at']) >=
                      report['launched_at'] - 1]
        landed = ({server: self.cloud.server(server)
                   ['OS-EXT-SRV-ATTR:host'] for server in servers}
                  if workload.stock else {})
        nova_cpu_after = nova_cpu_seconds(self.cloud.pid)
        actions = self.action_rows(plan, steps, landed)
        row = metrics.summarize(
            actions, events, requests, workload.kind,
            (report['launched_at'], report['finished_at']),
            report['plans_wall_seconds'], report['plans_cpu_seconds'],
            migrations, report.get('max_rss_kib'),
            report.get('notifications'))
        row.update({
            'workload': workload.name, 'kind': workload.kind,
            'figures_interval': workload.figures_interval,
            'move_seconds': lengths,
            'variant': variant.name,
            'notifications': variant.notifications,
            'action_type': variant.action_type,
            'workflow_engine': variant.workflow_engine,
            'plan_state': self.site.outcome(plan).state,
            'applier_total_cpu_seconds': report.get('cpu_seconds'),
            'nova_cpu_seconds': (
                None if nova_cpu is None or nova_cpu_after is None
                else nova_cpu_after - nova_cpu),
            'failures': [{'uuid': a['uuid'], 'server': a['server'],
                          'state': a['state'],
                          'status_message': a['status_message']}
                         for a in actions
                         if a['state'] != workload.expected_state],
            'stuck': workload.stuck,
            'plugin_options': plugin_options,
            'stopped_after': metrics.stop_seconds(events),
            'status_messages': [a['status_message'] for a in actions],
            'error': error,
            'error_detail': error_detail,
        })
        return row
