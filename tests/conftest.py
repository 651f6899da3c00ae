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

"""What every test suite shares: failure hints, a private RabbitMQ."""

import pytest

from tests import broker as private_broker
from tests import embedded_cloud
from watcher_migrate import context
from watcher_migrate import end_prediction

_FAILED = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if outcome.get_result().failed:
        _FAILED.append(item.nodeid)


def pytest_terminal_summary(terminalreporter):
    if _FAILED:
        for line in embedded_cloud.FAILURE_HINTS:
            terminalreporter.write_line(line)


@pytest.fixture
def process_context():
    """A process of the test's own: nothing learned, nothing shared.

    Given to the actions (``Migrate.context``) or gateways of a test that
    reads or sets what the process learns.
    """
    return context.ProcessContext()


@pytest.fixture(autouse=True)
def _fresh_start_lag(monkeypatch):
    """Each test starts as a fresh process would: no start lag learned.

    For the actions that run in the process's own context (functional
    and fault tests); the microversion it settled and its feeds are kept,
    as in a long-running applier.
    """
    monkeypatch.setattr(context.default(), 'start_lag',
                        end_prediction.StartLag())


@pytest.fixture(autouse=True)
def _private_journal(monkeypatch, tmp_path):
    """Each test's journal of moves in flight is its own, never the home's.

    The default journal_path is under $XDG_STATE_HOME; child processes
    (the CLI, the applier) inherit the variable.
    """
    state = tmp_path / 'state'
    monkeypatch.setenv('XDG_STATE_HOME', str(state))
    return state / 'watcher-migrate' / 'journal.sqlite'


@pytest.fixture(scope='session')
def broker():
    """A private RabbitMQ on 127.0.0.1 for the session (tests/broker.py).

    Started by tools/rabbitmq at the first test that asks for it, stopped
    at the end of the run. Without rabbitmq-server installed: a skip, or
    a failure under ``CI=true``. It also listens for TLS (``tls_url``).
    """
    with private_broker.running_broker(tls=True) as running:
        yield running
