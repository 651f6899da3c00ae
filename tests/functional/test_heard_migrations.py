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

"""Migrations followed by Nova's notifications, on a real RabbitMQ.

The embedded Nova publishes to the session's broker (``publishing_cloud``);
each action hears it through a listener of its own process context, on a
queue of its own.
"""

import logging
import socket
import uuid

from oslo_config import cfg
import oslo_messaging
import oslo_messaging.opts
import pytest

from tests import broker as brokers
from tests.functional import test_migrate_action as actions
from tests.functional import test_stalled_live_migration as stalls
from watcher_migrate import context
from watcher_migrate import exceptions

FIGURES = '/migrations'


@pytest.fixture
def process():
    """A process context of the test's own; its listener stops after."""
    own = context.ProcessContext()
    # One queue per test process: its actions share one listener.
    own.test_id = uuid.uuid4().hex
    yield own
    own.stop_listening()


def heard_action(cloud, server, source, destination, process, url,
                 kind='live', **options):
    # At their defaults: while heard, the server is still checked every
    # notification_check_interval, in case an event was lost.
    options.setdefault('poll_interval_max', 5.0)
    options.setdefault('notification_check_interval', 120)
    return actions.migrate_action(
        cloud, server, source, destination, kind=kind, context=process,
        notification_transport_url=url,
        notification_pool='watcher-migrate-test-%s' % process.test_id,
        **options)


def reads_of(requests, server):
    return [r for r in requests
            if r['method'] == 'GET' and server in r['path']]


def heard_move(cloud, process, url, kind='live', **driver):
    """A move once the process has heard one: (server, requests).

    ``requests``: (method, path) of every compute request from the
    second move's pre-condition on; ``driver``: its fake driver settings.
    """
    first, server = cloud.create_server('host1'), cloud.create_server('host1')
    cloud.set_driver(instance=first, live_duration=1)
    assert actions.run(heard_action(cloud, first, 'host1', 'host2', process,
                                    url)) is True
    cloud.set_driver(instance=server, **driver)
    start = len(cloud.requests())
    assert actions.run(heard_action(cloud, server, 'host1', 'host2', process,
                                    url, kind=kind)) is True
    return server, [(r['method'], r['path'].split('/v2.1')[-1])
                    for r in cloud.requests(start)]


def heard_live_move(cloud, process, url, live_duration):
    return heard_move(cloud, process, url, live_duration=live_duration)


def test_once_moves_are_heard_a_live_migration_is_not_polled(
        broker, publishing_cloud, process):
    cloud = publishing_cloud
    server, requests = heard_live_move(cloud, process, broker.url, 8)
    assert actions.placement(cloud, server) == ('host2', 'ACTIVE', None)
    # Neither progress figures nor polling of the server while it copies:
    # the pre-condition's read, the move, the read confirming the landing
    # Nova announced, whatever the copy's length.
    assert [r for r in requests if r[1].endswith(FIGURES)] == [], requests
    assert len([r for r in requests if r[0] == 'GET']) <= 4, requests


def test_the_landing_nova_announces_of_our_request_needs_no_read(
        broker, publishing_cloud, process):
    cloud = publishing_cloud
    server, requests = heard_live_move(cloud, process, broker.url, 6)
    moved = [i for i, r in enumerate(requests) if r[0] == 'POST']
    assert len(moved) == 1, requests
    # Nova's event carries the id of our move request: believed, it is
    # the answer, true to Nova (placement is read after the action).
    assert requests[moved[0] + 1:] == [], requests
    assert actions.placement(cloud, server) == ('host2', 'ACTIVE', None)


def test_a_heard_cold_migration_is_confirmed_with_no_read(
        broker, publishing_cloud, process):
    cloud = publishing_cloud
    server, requests = heard_move(cloud, process, broker.url, kind='cold',
                                  cold_duration=4)
    assert actions.placement(cloud, server) == ('host2', 'ACTIVE', None)
    # Nova's word on each of our two requests: VERIFY_RESIZE, then the
    # confirm done (the pre-condition's reads come before).
    moved = [i for i, r in enumerate(requests) if r[0] == 'POST']
    assert len(moved) == 2, requests
    assert requests[moved[0] + 1:] == [requests[moved[1]]], requests


def test_a_heard_cold_migration_is_confirmed(broker, publishing_cloud,
                                             process):
    cloud = publishing_cloud
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, cold_duration=6)
    start = len(cloud.requests())
    migrate = heard_action(cloud, server, 'host1', 'host2', process,
                           broker.url, kind='cold')
    assert actions.run(migrate) is True
    assert actions.placement(cloud, server) == ('host2', 'ACTIVE', None)
    writes = [r for r in cloud.requests(start) if r['method'] == 'POST'
              and server in r['path']]
    assert len(writes) == 2         # the migrate and its confirm


def test_a_heard_copy_that_stalls_is_aborted_by_its_stall_window(
        broker, publishing_cloud, process):
    cloud = publishing_cloud
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, **stalls.DIRTYING)
    start = len(cloud.requests())
    # Checked every 6 s while heard; the stall window is 10 s.
    migrate = heard_action(cloud, server, 'host1', 'host2', process,
                           broker.url, poll_interval_max=3.0,
                           notification_check_interval=6, **stalls.STALL)
    with pytest.raises(exceptions.ActionFailed) as error:
        actions.run(migrate)
    assert 'stalled: remaining' in str(error.value), str(error.value)
    assert actions.placement(cloud, server) == ('host1', 'ACTIVE', None)
    assert cloud.migrations(server)[0]['status'] == 'cancelled'
    # Heard, the figures are read only for the stall window: after one
    # check interval and at the window's end (polled, every few seconds).
    figures = [r for r in reads_of(cloud.requests(start), server)
               if r['path'].endswith(FIGURES)]
    assert 1 < len(figures) <= 3, figures


def last_words(caplog, server):
    """The action's final log line about ``server``."""
    return [r.getMessage() for r in caplog.records
            if r.name == 'watcher_migrate.action' and server in r.getMessage()
            and r.levelno == logging.INFO][-1]


def short_heard_move(cloud, process, url, caplog):
    """A 1 s live migration listening on ``url``, logs kept; its server."""
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, live_duration=1)
    migrate = heard_action(cloud, server, 'host1', 'host2', process, url)
    with caplog.at_level(logging.INFO):
        assert actions.run(migrate) is True
    return server


def test_a_heard_move_says_so_in_its_last_log_line(broker, publishing_cloud,
                                                   process, caplog):
    server = short_heard_move(publishing_cloud, process, broker.url, caplog)
    assert "(heard from Nova's notifications)" in last_words(caplog, server)


def test_a_move_nova_sends_no_notification_of_is_polled_and_says_so(
        broker, cloud, process, caplog):
    # The session's other Nova publishes nothing.
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, live_duration=3)
    migrate = heard_action(cloud, server, 'host1', 'host2', process,
                           broker.url)
    with caplog.at_level(logging.INFO):
        assert actions.run(migrate) is True
    silent = [r.getMessage() for r in caplog.records
              if 'sent no notification' in r.getMessage()]
    assert len(silent) == 1, silent
    assert '(followed by polling: no notification of it was heard)' in \
        last_words(caplog, server)


def test_an_unreachable_bus_leaves_the_move_to_polling(
        publishing_cloud, process, caplog):
    cloud = publishing_cloud
    with socket.socket() as closed:
        closed.bind(('127.0.0.1', 0))
        port = closed.getsockname()[1]
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, live_duration=2)
    migrate = heard_action(cloud, server, 'host1', 'host2', process,
                           'rabbit://watcher:s3cr3t@127.0.0.1:%d/' % port)
    with caplog.at_level(logging.WARNING):
        assert actions.run(migrate) is True
    messages = [r.getMessage() for r in caplog.records]
    assert any('cannot be reached' in m for m in messages), messages
    assert not any('s3cr3t' in m for m in messages)


def test_the_broker_permissions_readme_gives_are_enough_to_hear_moves(
        broker, publishing_cloud, process, caplog):
    # README, "Hearing Nova's notifications": a user of its own that may
    # only declare, bind and read its own queue and exchange nova.
    brokers.ctl(broker, 'add_user', 'watcher-migrate', 'limited')
    brokers.ctl(broker, 'set_permissions', '-p', '/', 'watcher-migrate',
                '^(nova|watcher-migrate-.*)$', '^watcher-migrate-.*$',
                '^(nova|watcher-migrate-.*)$')
    url = broker.url.replace('guest:guest@', 'watcher-migrate:limited@')
    server = short_heard_move(publishing_cloud, process, url, caplog)
    assert "(heard from Nova's notifications)" in last_words(caplog, server)


@pytest.fixture
def rabbit_tls():
    """Sets this process's [oslo_messaging_rabbit] TLS options; undone after.

    As in the applier, whose watcher.conf holds them: the listener takes
    them from the process's configuration.
    """
    rabbit = 'oslo_messaging_rabbit'
    for group, opts in oslo_messaging.opts.list_opts():
        if group == rabbit:
            cfg.CONF.register_opts(opts, group=rabbit)
    names = []

    def set_tls(**values):
        for name, value in values.items():
            cfg.CONF.set_override(name, value, group=rabbit)
            names.append(name)
    yield set_tls
    for name in names:
        cfg.CONF.clear_override(name, group=rabbit)


def test_a_bus_over_tls_is_heard_with_the_ca_the_options_name(
        broker, publishing_cloud, process, rabbit_tls, caplog):
    rabbit_tls(ssl=True, ssl_ca_file=broker.ca_file)
    server = short_heard_move(publishing_cloud, process, broker.tls_url,
                              caplog)
    assert "(heard from Nova's notifications)" in last_words(caplog, server)


def test_a_bus_whose_certificate_is_not_trusted_is_not_used(
        broker, publishing_cloud, process, rabbit_tls, caplog):
    # TLS on, no CA named: the system's CAs, which never signed the test
    # broker's certificate. Verification stays on: polling alone.
    rabbit_tls(ssl=True)
    server = short_heard_move(publishing_cloud, process, broker.tls_url,
                              caplog)
    messages = [r.getMessage() for r in caplog.records]
    # oslo.messaging says why at each try; the plugin, once, what it does.
    assert any('CERTIFICATE_VERIFY_FAILED' in m for m in messages)
    assert any('notification bus' in m and 'polling alone' in m
               for m in messages), messages
    assert 'heard from' not in last_words(caplog, server)
