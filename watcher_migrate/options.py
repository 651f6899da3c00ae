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

"""Options of ``[watcher_actions.nova_migrate]``: the operator's manual.

Watcher registers what ``Migrate.get_config_opts()`` returns under the
group ``watcher_actions.<entry point name>`` and hands the action the
group's values as a dict-like object; ``Settings`` reads such a mapping and
falls back to the declared defaults, so the action also runs with a plain
dict (tests, the command-line tool).
"""

import copy

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

ENTRY_POINT = 'nova_migrate'
GROUP = 'watcher_actions.' + ENTRY_POINT

TIMEOUT_ABORT = 'abort'
TIMEOUT_FORCE_COMPLETE = 'force_complete'

MIGRATION_OPTS = [
    cfg.FloatOpt(
        'poll_interval_min', default=0.2, min=0.05,
        help='Seconds between the first polls of a migration. Polling '
             'starts at this interval, so a short migration is noticed '
             'within a fraction of a second, and backs off towards '
             'poll_interval_max while nothing changes.'),
    cfg.FloatOpt(
        'poll_interval_max', default=5.0, min=0.1,
        help='Longest interval, in seconds, between two polls of a '
             'migration while its end cannot be predicted. Once the '
             'memory copy of a live migration runs, two of the progress '
             'figures Nova reports give its rate, and the next poll comes '
             'when the copy is predicted to end (at most 6 x '
             'poll_interval_max later, to notice a failure).'),
    cfg.BoolOpt(
        'shared_tracking', default=True,
        help='Follow all migrations in progress in this process with '
             'shared requests: the servers by one GET /servers/detail '
             'with changes-since (all projects), live migrations waiting '
             'to copy by one GET /os-migrations with changes-since '
             '(microversion 2.59+), each answering for every action, '
             'instead of requests per migration. Needs the right to list '
             "all projects' servers and migrations (admin); without it "
             'each action falls back to reading its own.'),
    cfg.StrOpt(
        'notification_transport_url', default='', secret=True,
        help='Transport URL of the message bus Nova sends its versioned '
             'notifications to (e.g. rabbit://user:password@host:5672/). '
             'When set, each migration is also woken by its server\'s '
             'notifications (instance.live_migration_*, instance.resize_*, '
             'instance.update, compute_task.migrate_server.error) and '
             'confirms each by at most one read (none for the landing of '
             'its own request), instead of waiting for its next poll. '
             'Empty (default): polling alone. Nova must send them: '
             '[notifications] notification_format = versioned or both, '
             'and [oslo_messaging_notifications] driver = messagingv2. '
             'Use a broker user that may only read exchange '
             'notification_exchange and use its own queue, over TLS '
             '([oslo_messaging_rabbit] options of this process apply). '
             'A bus that cannot be reached leaves polling alone.'),
    cfg.StrOpt(
        'notification_topic', default='versioned_notifications',
        help='Topic of Nova\'s versioned notifications ([notifications] '
             'versioned_notifications_topics in nova.conf).'),
    cfg.StrOpt(
        'notification_exchange', default='nova',
        help='Exchange Nova sends its notifications to (its '
             'control_exchange).'),
    cfg.StrOpt(
        'notification_pool', default='',
        help='Name of the queue this plugin consumes notifications from. '
             'Each queue (pool) gets its own copy of every notification, '
             "so Watcher's decision engine (whose pool is its host name) "
             'and other consumers lose none. Empty (default): '
             'watcher-migrate-<host name>, unique to this plugin and host. '
             'The queue outlives the applier for '
             'notification_queue_expiry seconds.'),
    cfg.IntOpt(
        'notification_queue_expiry', default=600, min=1,
        help='Seconds the queue of notification_pool stays on the broker '
             'once nothing consumes it (RabbitMQ x-expires), and the '
             'longest a notification waits in it (x-message-ttl): it '
             'does not fill while the applier is down, nor stay after '
             'the plugin is removed. A restart within that time loses '
             'no notification; older ones are of moves no action follows '
             'any more. Set when the queue is declared: a queue of the '
             'same name declared before with other values must be '
             'deleted first (a RabbitMQ policy with a lower value also '
             'applies).'),
    cfg.IntOpt(
        'notification_check_interval', default=120, min=1,
        help='Seconds a migration whose notifications are heard goes '
             'without a look at Nova. Its events wake it; this look is '
             'there in case Nova failed to send one (it drops what it '
             'cannot send), so an unannounced end is noticed that late '
             'at worst. While a live migration is heard, this look is '
             'its stall watch\'s reading of the figures (see '
             'live_migration_stall_window). Polling (no listener, the '
             'bus lost, a move not heard of) is unaffected.'),
    cfg.IntOpt(
        'live_timeout', default=0, min=0,
        help='Seconds a live migration may take before timeout_action is '
             'applied. 0 (default) sizes it from the server: '
             'timeout_per_gib seconds per GiB of RAM plus disk, at least '
             'timeout_floor seconds.'),
    cfg.IntOpt(
        'cold_timeout', default=0, min=0,
        help='Seconds a cold migration may take to reach VERIFY_RESIZE '
             'before it is reverted and the action fails. 0 (default) '
             'sizes it like live_timeout.'),
    cfg.IntOpt(
        'timeout_per_gib', default=120, min=1,
        help='Seconds allowed per GiB of RAM plus disk of the server when '
             'live_timeout or cold_timeout is 0.'),
    cfg.IntOpt(
        'timeout_floor', default=900, min=1,
        help='Least number of seconds a size-aware timeout allows (the '
             'built-in migrate action allows 900 for any server).'),
    cfg.StrOpt(
        'timeout_action', default=TIMEOUT_ABORT,
        choices=[(TIMEOUT_ABORT, 'Abort the live migration; the server '
                                 'stays on the source and the action '
                                 'fails.'),
                 (TIMEOUT_FORCE_COMPLETE, 'Force the running live '
                                          'migration to complete (the '
                                          'guest is paused for the last '
                                          'copy); a migration still queued '
                                          'is aborted.')],
        help='What to do with a live migration still in progress when its '
             'timeout expires, or when it stalls (see '
             'live_migration_stall_window). Either way the action waits '
             'for Nova to settle and never leaves a migration running.'),
    cfg.IntOpt(
        'live_migration_stall_window', default=120, min=0,
        help='Seconds a live migration\'s memory remaining (Nova\'s '
             'progress figures) may go without falling to a new low '
             'before the copy is taken as stalled (the guest dirties its '
             'memory as fast as it is copied) and timeout_action is '
             'applied at once, instead of at the timeout. The copy is '
             'also taken as stalled when its rate predicts an end past '
             'the timeout, on three falling figures (read as Nova saves '
             'them, not at the window\'s end). 120 s spans many of '
             'libvirt\'s figure saves '
             '(every 5 s) and a full pass over the memory of most guests '
             'at a 1 GiB/s link, so a converging copy always sets a new '
             'low within it; it is also a multiple of the 30 s between '
             'looks at a long copy (6 x poll_interval_max), so checking '
             'it costs no extra request. Keep it longer than one pass of '
             'the copy over the guest\'s memory. 0: no stall detection, '
             'the timeout alone. A move followed by Nova\'s notifications '
             '(notification_transport_url) is watched too: its figures are '
             'read after notification_check_interval and at each end of '
             'the window.'),
    cfg.BoolOpt(
        'auto_confirm', default=True,
        help='Confirm a cold migration as soon as the server reaches '
             'VERIFY_RESIZE on the destination. If False the action '
             'succeeds with the server in VERIFY_RESIZE and the resize is '
             'left for an operator (or Nova\'s resize_confirm_window) to '
             'confirm or revert.'),
    cfg.IntOpt(
        'settle_timeout', default=300, min=1,
        help='Seconds to wait for Nova to settle after a confirm, revert, '
             'abort or force-complete request.'),
    cfg.IntOpt(
        'api_retry_timeout', default=60, min=0,
        help='Seconds during which transient Nova API errors (connection '
             'errors, HTTP 5xx, 409 while the server is busy) are retried '
             'with exponential backoff before the action fails; the last '
             'try starts when this time is up, not later, except that a '
             'first try that outlasted it (a request timeout as long) is '
             'tried once more. 0: no retry.'),
    cfg.FloatOpt(
        'progress_interval', default=10.0, min=0.5,
        help='Seconds between two INFO log lines about a migration in '
             'progress (phase, percent or bytes, elapsed time).'),
    cfg.StrOpt(
        'journal_path', default='',
        help='Path of the journal of moves in flight: a sqlite file '
             '(WAL mode) where each migration is recorded before it is '
             'requested and removed once it has ended, so that the next '
             'process (or watcher-migrate recover) can finish or stop what '
             'a process that died left running in Nova. Processes of one '
             'host that should recover each other share it. The directory '
             'is created if needed; a journal that cannot be written fails '
             'the action before any request to Nova. Empty (default): '
             '$XDG_STATE_HOME/watcher-migrate/journal.sqlite, else '
             '~/.local/state/watcher-migrate/journal.sqlite of the user '
             'running it: for a packaged applier running as user watcher, '
             '/var/lib/watcher/.local/state/watcher-migrate/journal.sqlite.'),
    cfg.StrOpt(
        'interface', default='public',
        choices=[('public', 'The endpoint for users, often through a '
                            'public address and TLS.'),
                 ('internal', 'The endpoint for services inside the '
                              'cloud, on its internal network.'),
                 ('admin', 'The endpoint for administrative use, where '
                           'the cloud still has one.')],
        help='Endpoint interface of the compute service in the catalog.'),
    cfg.StrOpt(
        'region_name',
        help='Region of the compute endpoint; any region if unset.'),
    cfg.URIOpt(
        'endpoint_override',
        help='Compute API URL to use instead of the one in the service '
             'catalog (e.g. http://nova.internal:8774/v2.1), for a Nova '
             'reached through another address than the catalog says.'),
]

# Used only when Watcher gives the action no OpenStackClients (tests, a
# program embedding the action): Watcher's own session otherwise.
DEFAULT_AUTH_TYPE = 'password'
DEFAULT_REQUEST_TIMEOUT = 60

# Said in the sample config of each keystoneauth1 option, so nobody sets
# a password there believing the applier reads it.
ONLY_WITHOUT_CLIENTS = (
    'Used only when Watcher gives the action no clients: the applier '
    "gives its [watcher_clients_auth] session, and the watcher-migrate "
    'command line its --os-* options, instead.')


def _keystoneauth_opts():
    """Session (TLS, timeout) and password auth options of keystoneauth1."""
    opts = (ks_loading.get_session_conf_options()
            + ks_loading.get_auth_common_conf_options()
            + ks_loading.get_auth_plugin_conf_options(DEFAULT_AUTH_TYPE))
    # Copies: keystoneauth returns shared objects; ours get our default.
    opts = [copy.deepcopy(o) for o in opts]
    for opt in opts:
        # Needed only without Watcher's session: a required auth_url would
        # make every reload of watcher.conf fail in the applier.
        opt.required = False
        if opt.dest == 'auth_type':
            opt.default = DEFAULT_AUTH_TYPE
        elif opt.dest == 'timeout':
            # A request must not hang an action for ever.
            opt.default = DEFAULT_REQUEST_TIMEOUT
        opt.help = '%s %s' % (opt.help.rstrip(), ONLY_WITHOUT_CLIENTS)
    return opts


def all_opts():
    """Every option of the group, in the order the sample config shows."""
    return list(MIGRATION_OPTS) + _keystoneauth_opts()


def list_opts():
    """Entry point for oslo-config-generator (``oslo.config.opts``)."""
    return [(GROUP, all_opts())]


class Settings(object):
    """The option values one action uses.

    :param config: a mapping (Watcher's ``Struct``, an oslo.config group,
        a dict) or None; anything it lacks takes the declared default.
    """

    def __init__(self, config=None):
        self._values = {}
        for opt in all_opts():
            value = _lookup(config, opt.dest)
            self._values[opt.dest] = opt.default if value is None else value

    def __getattr__(self, name):
        try:
            return self.__dict__['_values'][name]
        except KeyError:
            raise AttributeError(name)

    def as_dict(self):
        return dict(self._values)


def _lookup(config, name):
    if config is None:
        return None
    try:
        return config[name]
    except (KeyError, AttributeError, cfg.NoSuchOptError, TypeError):
        return None
