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

"""What the benchmark runs: the variants and the workloads.

A variant is an action type with the watcher.conf it runs under: the
built-in ``migrate`` with Watcher's default ``[nova] migration_interval =
5`` and tuned to 1 s (so that the comparison is not against a straw man),
and ``nova_migrate`` with its own defaults, following each migration by
polling (``plugin``) and woken by Nova's notifications through the
bench's broker (``plugin-notify``). A workload is ``width``
servers each moved ``chain`` times in a row in one action plan: single
migrations are a chain on one server (each action waits for the previous
one), concurrent ones ``width`` parallel actions. Servers are booted once
and reused; each move goes from where the server is to the next host.
Live copies save their figures at the libvirt driver's default cadence,
but on a ``-nofig`` workload, which saves none (Nova's other drivers).
Each move lasts its workload's length give or take a drawn fraction of
it (``copy_spread``), the same draws for every variant: real copies'
lengths vary, and copies of a fixed length would put a poller's every
poll at the same point after each landing, near or far by luck.
"""

import functools
import random

GIB = 1 << 30

# Fake-driver figures for every live migration: a 2 GiB guest whose
# figures Nova saves every 5 s, as the libvirt driver does by default
# ([libvirt] live_migration_monitor_interval); 0 on the no-figures rows,
# as with Nova's other drivers.
MEMORY_BYTES = 2 * GIB
FIGURES_INTERVAL = 5.0
NO_FIGURES = 0.0
# A tenth either way: a 20 s copy spreads over most of one poll of the
# built-in's default 5 s, a 60 s one over several; a 3 s copy stays short.
COPY_SPREAD = 0.1
# Servers moved at once by the stock-shaped workload.
STOCK_WIDTH = 6
# The stuck workload: a copy that would take STUCK_DURATION s but whose
# guest dirties its memory as fast as it is copied from STUCK_AT of it
# on (the fake driver's live_dirty_at), under an operator's live_timeout
# of STUCK_TIMEOUT s (a sized one would be 900 s): the plugin with its
# default stall window against the timeout alone.
STUCK_AT = 0.5
STUCK_DURATION = 10.0
STUCK_TIMEOUT = 300


class Variant(object):
    """An action type, the applier's workflow engine and [nova] options.

    :param stock_only: run only on workloads shaped as a stock strategy
        emits them (the alias engine exists for those)
    :param notifications: the plugin listens to Nova's notifications on
        the bench's broker (``notification_transport_url``); the others
        leave it unset: polling alone
    """

    def __init__(self, name, action_type, nova_options,
                 workflow_engine='taskflow', stock_only=False,
                 notifications=False, settings=None,
                 stuck_only=False):
        self.name = name
        self.action_type = action_type
        self.nova_options = dict(nova_options)
        self.workflow_engine = workflow_engine
        self.stock_only = stock_only
        self.notifications = notifications
        # [watcher_actions.nova_migrate] values of this variant; it runs
        # only on the stuck workload if stuck_only.
        self.settings = dict(settings or {})
        self.stuck_only = stuck_only

    def plugin_options(self, broker_url, pool):
        """[watcher_actions.nova_migrate] overrides of one applier run.

        :param pool: the queue a listening run consumes from
        """
        if not self.notifications:
            return {}
        if not broker_url:
            raise ValueError('%s listens to notifications: the bench has '
                             'no broker' % self.name)
        return {'notification_transport_url': broker_url,
                'notification_pool': pool}

    def as_dict(self):
        return {'name': self.name, 'action_type': self.action_type,
                'workflow_engine': self.workflow_engine,
                'nova_options': self.nova_options,
                'notifications': self.notifications,
                'plugin_options': self.settings}


# In the order they run for every workload. Everything not named here has
# Watcher's or the plugin's own default.
VARIANTS = (
    Variant('builtin-5s', 'migrate', {'migration_interval': 5}),
    Variant('plugin', 'nova_migrate', {}),
    Variant('plugin-notify', 'nova_migrate', {}, notifications=True),
    # The stock strategies' "migrate" actions, built as nova_migrate by
    # the plugin's workflow engine ([watcher_applier] workflow_engine).
    Variant('alias', 'migrate', {}, workflow_engine='nova_migrate',
            stock_only=True),
    Variant('builtin-1s', 'migrate', {'migration_interval': 1}),
    # The plugin without stall detection: a stuck copy runs to its timeout.
    Variant('no-stall', 'nova_migrate', {},
            settings={'live_migration_stall_window': 0}, stuck_only=True),
)


class Workload(object):
    """``width`` servers moved ``chain`` times each, in one plan.

    :param stock: shape the actions as Watcher's host_maintenance
        strategy emits them (a source host and the server's name, no
        destination: the scheduler chooses), one move per server
    :param figures_interval: seconds between two saves of a live copy's
        figures (the fake driver's live_migration_monitor_interval); 0:
        none
    :param copy_spread: each move lasts ``duration`` give or take up to
        this fraction of it (0: exactly ``duration``); not the stuck
        copy, which never ends by itself
    """

    def __init__(self, name, kind, duration, width=1, chain=1,
                 stock=False, figures_interval=FIGURES_INTERVAL,
                 stuck=False, copy_spread=0.0):
        if kind not in ('live', 'cold'):
            raise ValueError('kind must be live or cold')
        if stock and chain != 1:
            raise ValueError('a stock-shaped move has no known destination '
                             'to chain from')
        self.name = name
        self.kind = kind
        self.duration = float(duration)
        self.width = int(width)
        self.chain = int(chain)
        self.stock = stock
        self.figures_interval = (float(figures_interval) if kind == 'live'
                                 else None)
        # A live copy that never converges, which the action must abort:
        # run by the plugin alone (the built-in action never aborts one).
        self.stuck = stuck and kind == 'live'
        self.expected_state = 'FAILED' if self.stuck else 'SUCCEEDED'
        self.copy_spread = 0.0 if self.stuck else float(copy_spread)
        if not 0 <= self.copy_spread < 1:
            raise ValueError('copy_spread must be a fraction >= 0 and < 1')
        self.plugin_options = ({'live_timeout': STUCK_TIMEOUT}
                               if self.stuck else {})

    def runs(self, variant):
        """Whether ``variant`` runs on this workload."""
        if self.stuck:
            return (variant.action_type == 'nova_migrate' and
                    variant.workflow_engine == 'taskflow' and
                    not variant.notifications)
        return (self.stock or not variant.stock_only) and \
            not variant.stuck_only

    @property
    def migrations(self):
        return self.width * self.chain

    def lengths(self, seed, index):
        """Seconds of each move of server ``index``'s chain, in order.

        Drawn from ``seed``, the workload's name and ``index`` alone, so
        that every variant of a run moves the same copies.
        """
        draw = random.Random('%s/%s/%d' % (seed, self.name, index))
        spread = self.copy_spread
        return [round(self.duration * (1 + draw.uniform(-spread, spread)), 3)
                for _ in range(self.chain)]

    def driver_behaviour(self, lengths=None):
        """set_driver fields for a server of this workload.

        :param lengths: its moves' seconds (:meth:`lengths`); None: each
            lasts ``duration``
        """
        if self.kind == 'live':
            fields = {'live_duration': self.duration,
                      'memory_bytes': MEMORY_BYTES,
                      'live_migration_monitor_interval':
                          self.figures_interval,
                      'live_dirty_at': STUCK_AT if self.stuck else None}
        else:
            fields = {'cold_duration': self.duration}
        fields['next_durations'] = list(lengths or [])
        return fields

    def applier_timeout(self):
        """Seconds an applier run of this workload may take, generously."""
        stuck = STUCK_TIMEOUT if self.stuck else 0
        longest = self.duration * (1 + self.copy_spread)
        return int(240 + stuck + self.chain * (2 * longest + 30) +
                   6 * self.width)

    def as_dict(self):
        return {'name': self.name, 'kind': self.kind,
                'duration': self.duration, 'width': self.width,
                'chain': self.chain, 'stock': self.stock,
                'figures_interval': self.figures_interval,
                'copy_spread': self.copy_spread,
                'stuck': self.stuck, 'plugin_options': self.plugin_options}


def workloads(repeat_short=4, repeat_medium=2, repeat_long=1,
              repeat_cold=3, concurrency=(1, 10, 50),
              concurrent_duration=20.0, quick=False,
              copy_spread=COPY_SPREAD):
    """The workloads of a run, in the order they run."""
    make = functools.partial(Workload, copy_spread=copy_spread)
    if quick:
        return [make('live-3s', 'live', 3, chain=2),
                make('live-3s-nofig', 'live', 3, chain=2,
                     figures_interval=NO_FIGURES),
                make('live-20s', 'live', 20, chain=1),
                make('cold-3s', 'cold', 3, chain=2),
                make('concurrent-1', 'live', 10, width=1),
                make('concurrent-10', 'live', 10, width=10),
                make('stock-maint', 'live', 10, width=4, stock=True)]
    result = [make('live-3s', 'live', 3, chain=repeat_short),
              make('live-20s', 'live', 20, chain=repeat_medium),
              make('live-60s', 'live', 60, chain=repeat_long),
              make('live-60s-nofig', 'live', 60, chain=repeat_long,
                   figures_interval=NO_FIGURES),
              make('cold-3s', 'cold', 3, chain=repeat_cold)]
    for width in concurrency:
        result.append(make('concurrent-%d' % width, 'live',
                           concurrent_duration, width=width))
    # host_maintenance empties hosts: parallel moves, scheduler's choice.
    result.append(make('stock-maint', 'live', concurrent_duration,
                       width=STOCK_WIDTH, stock=True))
    result.append(make('live-stuck', 'live', STUCK_DURATION, stuck=True))
    return [w for w in result if w.chain > 0 and w.width > 0]


def next_host(hosts, host, steps=1):
    """The host ``steps`` after ``host`` in ``hosts``, cyclically."""
    return hosts[(hosts.index(host) + steps) % len(hosts)]


def moves(workload, servers, where, hosts):
    """The moves of one run of ``workload``.

    :param servers: the booted servers; the first ``width`` are used
    :param where: server uuid -> the host it is on now
    :returns: per server, the list of (source, destination) of its chain
    """
    if workload.width > len(servers):
        raise ValueError('%s needs %d servers, %d booted'
                         % (workload.name, workload.width, len(servers)))
    result = []
    for server in servers[:workload.width]:
        source = where[server]
        chain = []
        for _ in range(workload.chain):
            destination = next_host(hosts, source)
            chain.append((source, destination))
            source = destination
        result.append((server, chain))
    return result
