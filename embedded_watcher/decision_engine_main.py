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

"""``watcher-decision-engine``, started for one ONESHOT audit, then stopped.

Run as a script by audits.py (for tests/watcher/test_stock_strategy.py).
It starts like ``watcher-decision-engine``
(``watcher.cmd.eventlet.decisionengine:main``):
the import of ``watcher.cmd.eventlet`` picks eventlet or native threads
from ``OS_WATCHER_DISABLE_EVENTLET_PATCHING``, ``prepare_service`` parses
watcher.conf, the decision engine's ``Syncer`` stores the goals and
strategies of the installed plugins, and ``DecisionEngineService`` starts
its RPC server (``fake:/`` transport), background jobs and monitor. Then it
does what ``POST /v1/audits`` does: creates a PENDING ONESHOT audit for
``--goal``/``--strategy`` with ``--parameters`` and casts
``trigger_audit`` through ``DecisionEngineAPI``. The engine collects its
compute model from Nova and Placement over HTTP, runs the strategy and
the planner and stores the action plan. Once the audit is final, the
audit and its action plans, with every action as stored, are written to
``--result-file``.
"""

import argparse
import json
import sys
import time

# Before anything else, as in watcher-decision-engine: this import decides
# between eventlet and native threads for the whole process.
from watcher.cmd.eventlet import decisionengine as decision_engine_cmd

from oslo_db.sqlalchemy import enginefacade
from watcher.common import context as watcher_context
from watcher.common import service as watcher_service
from watcher.decision_engine import rpcapi
from watcher.decision_engine import service as decision_engine_service
from watcher.decision_engine import sync
from watcher import objects

# The applier's runner sits next to this script (sys.path[0]).
import applier_main

FINAL_AUDIT_STATES = ('SUCCEEDED', 'FAILED', 'CANCELLED', 'DELETED',
                      'SUSPENDED')
POLL_INTERVAL = 0.2


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config-file', required=True)
    parser.add_argument('--log-file', required=True)
    parser.add_argument('--result-file', required=True)
    parser.add_argument('--goal', required=True)
    parser.add_argument('--strategy', required=True)
    parser.add_argument('--parameters', default='{}',
                        help="the audit's parameters, a JSON object")
    parser.add_argument('--timeout', type=float, default=120,
                        help='Seconds the audit may take')
    return parser.parse_args(argv)


def create_audit(context, goal_name, strategy_name, parameters):
    """A PENDING ONESHOT audit, as the API creates it."""
    goal = objects.Goal.get_by_name(context, goal_name)
    strategy = objects.Strategy.get_by_name(context, strategy_name)
    audit = objects.Audit(
        context, name='%s audit' % strategy_name, audit_type='ONESHOT',
        state=objects.audit.State.PENDING, goal_id=goal.id,
        strategy_id=strategy.id, parameters=parameters, scope=[],
        auto_trigger=False)
    audit.create()
    return audit


def wait_for_audit(context, uuid, timeout):
    deadline = time.monotonic() + timeout
    while True:
        audit = objects.Audit.get_by_uuid(context, uuid)
        if audit.state in FINAL_AUDIT_STATES:
            return audit
        if time.monotonic() > deadline:
            raise RuntimeError('audit %s still %s after %d s'
                               % (uuid, audit.state, timeout))
        time.sleep(POLL_INTERVAL)


def stored_plans(context, audit):
    """The audit's action plans and their actions, as the database has them."""
    plans = []
    for plan in objects.ActionPlan.list(
            context, filters={'audit_uuid': audit.uuid}):
        actions = objects.Action.list(
            context, filters={'action_plan_uuid': plan.uuid})
        plans.append({
            'uuid': plan.uuid, 'state': plan.state,
            'actions': [{'uuid': a.uuid, 'action_type': a.action_type,
                         'input_parameters': a.input_parameters,
                         'parents': a.parents, 'state': a.state}
                        for a in actions]})
    return plans


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    watcher_service.prepare_service(
        [sys.argv[0], '--config-file', args.config_file,
         '--log-file', args.log_file], decision_engine_cmd.CONF)
    applier_main.serialize_sqlite_transactions(
        enginefacade.writer.get_engine())

    sync.Syncer().sync()
    engine = decision_engine_service.DecisionEngineService()
    engine.start()
    result = {}
    try:
        context = watcher_context.make_context(is_admin=True)
        audit = create_audit(context, args.goal, args.strategy,
                             json.loads(args.parameters))
        started = time.monotonic()
        rpcapi.DecisionEngineAPI().trigger_audit(context, audit.uuid)
        audit = wait_for_audit(context, audit.uuid, args.timeout)
        result['audit_wall_seconds'] = time.monotonic() - started
        result['audit'] = {'uuid': audit.uuid, 'state': audit.state}
        result['action_plans'] = stored_plans(context, audit)
    finally:
        engine.stop()
        with open(args.result_file, 'w') as handle:
            json.dump(result, handle)
    return 0


if __name__ == '__main__':
    sys.exit(main())
