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

"""``watcher-applier``, started for a few action plans, then stopped.

Run as a script by embedded_watcher/deployment.py, one process per applier
run. It starts exactly like ``watcher-applier`` of the installed release
(``watcher.cmd.eventlet.applier:main``, ``watcher.cmd.applier:main`` before
15.0): importing ``watcher.cmd.eventlet`` (``watcher.cmd``) monkey patches
the process with eventlet unless ``OS_WATCHER_DISABLE_EVENTLET_PATCHING``
says not to (13.x patches always), and picks the oslo.service backend to
match; ``prepare_service`` parses watcher.conf; the ``Syncer`` stores every
action plugin's description; ``ApplierService`` (the plain ``Service`` of
``ApplierManager`` before 16.0) starts its RPC server (on the ``fake:/``
transport), heartbeat and (16.0+) service monitor. Then, instead of
waiting for the API, it casts ``launch_action_plan`` for each plan through
``ApplierAPI`` (what the API does when an operator starts a plan), waits
until every plan is in a final state, stops the service and writes what
it saw to ``--result-file``: the plans' final states, the wall time from
launching the plans to all of them being final (``plans_wall_seconds``,
with the epoch times ``launched_at`` and ``finished_at``), and the applier
process's CPU seconds (``getrusage(RUSAGE_SELF)``, user + system, every
thread) in that window (``plans_cpu_seconds``) and since it started
(``cpu_seconds``), its peak resident memory (``max_rss_kib``) and what
the plugin's notification listener consumed (``notifications``, None
where nothing listened). The benchmark (bench/) reads them.
"""

import argparse
import json
import resource
import sys
import time

# Before anything else, as in watcher-applier: this import decides between
# eventlet and native threads for the whole process. The applier's module
# moved to watcher.cmd.eventlet in 15.0; before, importing watcher.cmd
# patched (13.x: always; 14.x: unless the variable says not to).
try:
    from watcher.cmd.eventlet import applier as applier_cmd
except ImportError:  # Watcher <= 14.x
    from watcher.cmd import applier as applier_cmd

from oslo_db.sqlalchemy import enginefacade
import sqlalchemy
from watcher.applier import manager as applier_manager
from watcher.applier import rpcapi
from watcher.applier import sync
from watcher.common import context as watcher_context
from watcher.common import service as watcher_service
from watcher import objects

from watcher_migrate import context as plugin_context

try:
    from watcher.applier import service as applier_service
except ImportError:  # Watcher <= 15.x: the plain Service, as its cmd does
    applier_service = None
try:
    from watcher import eventlet as eventlet_helper
    is_patched = eventlet_helper.is_patched
except ImportError:  # Watcher 13.x: watcher.cmd patched unconditionally
    import eventlet.patcher

    def is_patched():
        return eventlet.patcher.is_monkey_patched('thread')

FINAL_STATES = ('SUCCEEDED', 'FAILED', 'CANCELLED', 'SUPERSEDED',
                'DELETED')
POLL_INTERVAL = 0.2


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config-file', required=True)
    parser.add_argument('--log-file', required=True)
    parser.add_argument('--result-file', required=True)
    parser.add_argument('--action-plan', action='append', default=[],
                        help='UUID of an action plan to launch (repeat)')
    parser.add_argument('--timeout', type=float, default=240,
                        help='Seconds the plans may take in all')
    return parser.parse_args(argv)


def serialize_sqlite_transactions(engine):
    """Make every transaction take sqlite's write lock when it begins.

    oslo.db begins sqlite transactions with a plain ``BEGIN``, so a write
    transaction first reads, then asks for the write lock; if another
    connection wrote in between, sqlite fails it at once with "database is
    locked" (it cannot wait: its snapshot is stale), an error Watcher's
    ``retry_on_deadlock`` does not retry. Parallel actions update their
    states at the same moment, so without this the applier on sqlite fails
    actions at random. ``BEGIN IMMEDIATE`` makes a transaction wait (busy
    timeout) for the lock instead. Watcher's own tests serialize writes for
    the same reason; a production database reports such conflicts as
    deadlocks, which Watcher retries.
    """
    def begin_immediate(conn, cursor, statement, parameters, context,
                        executemany):
        if statement == 'BEGIN':
            statement = 'BEGIN IMMEDIATE'
        return statement, parameters

    sqlalchemy.event.listen(engine, 'before_cursor_execute',
                            begin_immediate, retval=True)


def wait_for_plans(context, uuids, timeout):
    """The final state of each plan; raise if one is not final in time."""
    deadline = time.monotonic() + timeout
    while True:
        states = {uuid: objects.ActionPlan.get_by_uuid(context, uuid).state
                  for uuid in uuids}
        if all(state in FINAL_STATES for state in states.values()):
            return states
        if time.monotonic() > deadline:
            raise RuntimeError('action plans not finished after %d s: %s'
                               % (timeout, states))
        time.sleep(POLL_INTERVAL)


def cpu_seconds():
    """User + system CPU seconds of this process so far, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_kib():
    """The most resident memory this process has used, in KiB (Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # watcher-applier's own command line: the action loader of 13.x-16.x
    # parses sys.argv again (loader/default.py, _reload_config), and would
    # stop at this script's other options.
    sys.argv[:] = [sys.argv[0], '--config-file', args.config_file,
                   '--log-file', args.log_file]
    watcher_service.prepare_service(sys.argv, applier_cmd.CONF)
    serialize_sqlite_transactions(enginefacade.writer.get_engine())

    sync.Syncer().sync()
    if applier_service is not None:
        applier = applier_service.ApplierService()
    else:
        applier = watcher_service.Service(applier_manager.ApplierManager)
    applier.start()
    result = {'eventlet_patched': is_patched()}
    try:
        context = watcher_context.make_context(is_admin=True)
        api = rpcapi.ApplierAPI()
        cpu_before = cpu_seconds()
        result['launched_at'] = time.time()
        started = time.monotonic()
        for uuid in args.action_plan:
            api.launch_action_plan(context, uuid)
        result['states'] = wait_for_plans(context, args.action_plan,
                                          args.timeout)
        result['plans_wall_seconds'] = time.monotonic() - started
        result['finished_at'] = time.time()
        result['plans_cpu_seconds'] = cpu_seconds() - cpu_before
        result['cpu_seconds'] = cpu_seconds()
        result['max_rss_kib'] = peak_rss_kib()
        # What the plugin's notification listener consumed; None where
        # no action listened (polling, the built-in).
        result['notifications'] = plugin_context.default(
        ).notification_counts()
    finally:
        applier.stop()
        with open(args.result_file, 'w') as handle:
            json.dump(result, handle)
    return 0


if __name__ == '__main__':
    sys.exit(main())
