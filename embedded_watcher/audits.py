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

"""Watcher's decision engine on a database of its own, for stock audits.

:class:`AuditSite` is a Watcher deployment in which the plans come from
Watcher's own decision engine (decision_engine_main.py, a child process
like the applier's) instead of from the test. Its database is a file of
its own, created by ``watcher-db-manage create_schema`` as an operator
would, and filled by the decision engine's start-up sync (goals and
strategies of the installed plugins): the hand-made goal and strategy of
the session's :class:`~embedded_watcher.deployment.Deployment` would be
soft-deleted, and their plans cancelled, by that sync. The test process
never opens this database with Watcher's objects (their engine is bound
to the session's database); it reads and updates it with sqlite3.
"""

import json
import os
import sqlite3
import subprocess

from embedded_watcher import deployment

DECISION_ENGINE_MAIN = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), 'decision_engine_main.py')
AUDIT_TIMEOUT = 180

# Only the compute model: the embedded cloud has no Cinder for the
# default 'storage' collector.
DECISION_ENGINE_CONF = """
[collector]
collector_plugins = compute

[placement]
region_name = {region}
valid_interfaces = public
"""


class AuditError(AssertionError):
    """A decision engine run did not end as it should."""


class AuditSite(deployment.Deployment):
    """watcher.conf, a database, decision engine and applier runs."""

    def create(self):
        """Create the database as ``watcher-db-manage`` does."""
        self.write_conf(self.conf_file)
        # WAL, as for the session's database: several processes use it.
        with sqlite3.connect(self.database) as connection:
            connection.execute('PRAGMA journal_mode=WAL')
        db_manage = os.path.join(os.path.dirname(self.python),
                                 'watcher-db-manage')
        subprocess.run([db_manage, '--config-file', self.conf_file,
                        'create_schema'], check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        return self

    def run_audit(self, goal, strategy, parameters,
                  timeout=AUDIT_TIMEOUT):
        """Run a ONESHOT audit in a decision engine process.

        :returns: what decision_engine_main.py reported: the audit's final
            state and its action plans with their actions as stored; and
            the decision engine's ``log_file``
        :raises AuditError: if the process failed or hung
        """
        self._runs += 1
        name = 'decision-engine-%02d' % self._runs
        conf_file = self.write_conf(os.path.join(self.directory,
                                                 name + '.conf'))
        with open(conf_file, 'a') as handle:
            handle.write(DECISION_ENGINE_CONF.format(
                region=self.cloud.region_name))
        log_file = os.path.join(self.directory, name + '.log')
        result_file = os.path.join(self.directory, name + '.json')
        output_file = os.path.join(self.directory, name + '.out')
        command = [self.python, DECISION_ENGINE_MAIN,
                   '--config-file', conf_file, '--log-file', log_file,
                   '--result-file', result_file, '--goal', goal,
                   '--strategy', strategy,
                   '--parameters', json.dumps(parameters),
                   '--timeout', str(timeout * 0.8)]
        env = dict(os.environ)
        # Watcher 17's default: native threads.
        env[deployment.PATCHING_VARIABLE] = deployment.MODES['threading']
        with open(output_file, 'wb') as output:
            try:
                returncode = subprocess.run(
                    command, stdin=subprocess.DEVNULL, stdout=output,
                    stderr=subprocess.STDOUT, env=env,
                    timeout=timeout).returncode
            except subprocess.TimeoutExpired:
                returncode = 'killed after %d s' % timeout
        if returncode != 0:
            raise AuditError('decision engine exited with %s\n%s\n%s'
                             % (returncode, deployment._tail(output_file),
                                deployment._tail(log_file)))
        with open(result_file) as handle:
            result = json.load(handle)
        result['log_file'] = log_file
        return result

    # -- what the API and the dashboard would do and show -----------------

    def start_plan(self, uuid):
        """Start a RECOMMENDED plan as ``POST .../start`` does: PENDING."""
        with sqlite3.connect(self.database) as connection:
            changed = connection.execute(
                "UPDATE action_plans SET state = 'PENDING' "
                "WHERE uuid = ? AND state = 'RECOMMENDED'", (uuid,)).rowcount
        if changed != 1:
            raise AuditError('action plan %s is not RECOMMENDED' % uuid)
        return deployment.Plan(uuid, [])

    def plan_state(self, uuid):
        with sqlite3.connect(self.database) as connection:
            return connection.execute(
                'SELECT state FROM action_plans WHERE uuid = ?',
                (uuid,)).fetchone()[0]

    def actions(self, plan_uuid):
        """The plan's actions as stored, by uuid: type, state, message."""
        with sqlite3.connect(self.database) as connection:
            rows = connection.execute(
                'SELECT a.uuid, a.action_type, a.state, a.status_message, '
                'a.input_parameters FROM actions a JOIN action_plans p '
                'ON a.action_plan_id = p.id WHERE p.uuid = ? '
                'AND a.deleted = 0', (plan_uuid,)).fetchall()
        return dict((uuid, {'action_type': action_type, 'state': state,
                            'status_message': message,
                            'input_parameters': json.loads(parameters)})
                    for uuid, action_type, state, message, parameters
                    in rows)
