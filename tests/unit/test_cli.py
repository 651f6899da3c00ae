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

"""The command line: arguments, auth and config loading, commands' output
and exit codes, with a scripted action and no cloud."""

import _thread
import io
import json
import os
import signal
import socket
import sys
import threading
import time

from keystoneauth1 import exceptions as ks_exceptions
import pytest

from tests.unit import test_plan_runner as fakes
from watcher_migrate import action as migrate_action
from watcher_migrate import cli
from watcher_migrate import nova_gateway
from watcher_migrate import plan_runner

PASSWORD = 'pa55-Do-Not-Print'
AUTH_ENV = {
    'OS_AUTH_URL': 'https://keystone.example.org:5000/v3',
    'OS_USERNAME': 'operator', 'OS_PASSWORD': PASSWORD,
    'OS_PROJECT_NAME': 'admin', 'OS_USER_DOMAIN_NAME': 'Default',
    'OS_PROJECT_DOMAIN_NAME': 'Default',
}
SERVER = '0b8bd4ab-7c11-4b43-a3b1-64a6b8a7c5a3'


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith('OS_'):
            monkeypatch.delenv(name)
    fakes.FakeAction.log = []


@pytest.fixture
def auth_env(monkeypatch):
    for name, value in AUTH_ENV.items():
        monkeypatch.setenv(name, value)


def parse(*argv):
    return cli.build_parser(list(argv)).parse_args(list(argv))


# -- arguments ---------------------------------------------------------------


def test_workers_default_to_four():
    assert parse('run', 'plan.json').workers == 4


@pytest.mark.parametrize('value', ['0', '-1', 'x'])
def test_workers_must_be_a_positive_integer(value, capsys):
    with pytest.raises(SystemExit) as e:
        parse('run', 'plan.json', '--workers', value)
    assert e.value.code == 2


def test_migrate_needs_a_destination(capsys):
    with pytest.raises(SystemExit):
        parse('migrate', SERVER)
    assert '--to' in capsys.readouterr().err


def test_a_command_is_required(capsys):
    with pytest.raises(SystemExit) as e:
        parse()
    assert e.value.code == 2


# -- auth --------------------------------------------------------------------


def test_auth_comes_from_the_os_environment(auth_env):
    session, _, _ = cli.load_session(parse('check', 'p'))
    assert (session.auth.auth_url, session.auth._username) == (
        AUTH_ENV['OS_AUTH_URL'], 'operator')


def test_os_options_override_the_environment(auth_env):
    session, _, _ = cli.load_session(
        parse('check', 'p', '--os-username', 'someone'))
    assert session.auth._username == 'someone'


def test_tls_is_verified_by_default(auth_env):
    session, _, _ = cli.load_session(parse('check', 'p'))
    assert session.verify is True


def test_insecure_turns_tls_verification_off(auth_env):
    session, _, _ = cli.load_session(parse('check', 'p', '--insecure'))
    assert session.verify is False


def test_os_cacert_is_the_verification_bundle(auth_env, tmp_path):
    bundle = str(tmp_path / 'ca.pem')
    session, _, _ = cli.load_session(
        parse('check', 'p', '--os-cacert', bundle))
    assert session.verify == bundle


def test_interface_and_region_come_from_the_environment(
        auth_env, monkeypatch):
    monkeypatch.setenv('OS_INTERFACE', 'internal')
    monkeypatch.setenv('OS_REGION_NAME', 'RegionTwo')
    _, interface, region = cli.load_session(parse('check', 'p'))
    assert (interface, region) == ('internal', 'RegionTwo')


def test_missing_auth_url_is_an_error_naming_it(monkeypatch):
    monkeypatch.setenv('OS_USERNAME', 'operator')
    with pytest.raises(cli.CliError, match='--os-auth-url or OS_AUTH_URL'):
        cli.load_session(parse('check', 'p'))


def test_os_cloud_without_openstacksdk_says_what_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, 'openstack', None)
    with pytest.raises(cli.CliError, match='needs openstacksdk'):
        cli.load_session(parse('check', 'p', '--os-cloud', 'prod'))


def test_os_cloud_reads_clouds_yaml(monkeypatch, tmp_path):
    clouds = tmp_path / 'clouds.yaml'
    clouds.write_text(json.dumps({'clouds': {'prod': {
        'auth': {'auth_url': 'https://prod.example.org/v3',
                 'username': 'u', 'password': PASSWORD,
                 'project_name': 'p', 'user_domain_name': 'Default',
                 'project_domain_name': 'Default'},
        'region_name': 'RegionProd', 'interface': 'internal'}}}))
    monkeypatch.setenv('OS_CLIENT_CONFIG_FILE', str(clouds))
    session, interface, region = cli.load_session(
        parse('check', 'p', '--os-cloud', 'prod'))
    assert (session.auth.auth_url, interface, region) == (
        'https://prod.example.org/v3', 'internal', 'RegionProd')


def test_help_never_shows_the_password(auth_env, capsys):
    with pytest.raises(SystemExit):
        parse('run', '--help')
    assert PASSWORD not in capsys.readouterr().out


def test_auth_error_never_shows_the_password(monkeypatch, tmp_path):
    monkeypatch.setenv('OS_PASSWORD', PASSWORD)
    monkeypatch.setenv('OS_USERNAME', 'operator')
    path = tmp_path / 'plan.json'
    path.write_text(json.dumps([action('ok-1')]))
    stdout, stderr = io.StringIO(), io.StringIO()
    code = cli.Tool(stdout, stderr, fakes.FakeAction, isatty=False).main(
        ['check', str(path), '--debug'])
    assert code == 2
    assert 'OS_AUTH_URL' in stderr.getvalue()
    assert PASSWORD not in stdout.getvalue() + stderr.getvalue()


# -- plugin options ----------------------------------------------------------


def write_conf(tmp_path, text):
    path = tmp_path / 'watcher-migrate.conf'
    path.write_text('[watcher_actions.nova_migrate]\n' + text)
    return str(path)


def test_defaults_without_config_file():
    values = cli.plugin_config(parse('run', 'p'))
    assert (values['live_timeout'], values['timeout_action'],
            values['auto_confirm']) == (0, 'abort', True)


def test_config_file_sets_plugin_options(tmp_path):
    conf = write_conf(tmp_path, 'poll_interval_max = 1.5\n'
                                'timeout_action = force_complete\n')
    values = cli.plugin_config(parse('run', 'p', '--config-file', conf))
    assert (values['poll_interval_max'], values['timeout_action']) == (
        1.5, 'force_complete')


def test_flags_override_the_config_file(tmp_path):
    conf = write_conf(tmp_path, 'live_timeout = 100\nauto_confirm = true\n'
                                'timeout_action = force_complete\n')
    values = cli.plugin_config(parse(
        'run', 'p', '--config-file', conf, '--live-timeout', '5',
        '--no-auto-confirm', '--timeout-action', 'abort'))
    assert (values['live_timeout'], values['auto_confirm'],
            values['timeout_action']) == (5, False, 'abort')


def test_os_interface_and_region_reach_the_action(tmp_path):
    conf = write_conf(tmp_path, 'interface = admin\n')
    values = cli.plugin_config(parse('run', 'p', '--config-file', conf),
                               interface='internal', region_name='R2')
    assert (values['interface'], values['region_name']) == (
        'internal', 'R2')


def test_missing_config_file_is_an_error():
    with pytest.raises(cli.CliError, match='configuration'):
        cli.plugin_config(parse('run', 'p', '--config-file', '/nonexistent'))


def test_invalid_config_value_is_an_error_naming_the_option(tmp_path):
    conf = write_conf(tmp_path, 'timeout_action = explode\n')
    with pytest.raises(cli.CliError, match='timeout_action'):
        cli.plugin_config(parse('run', 'p', '--config-file', conf))


# -- commands, with the scripted action ------------------------------------


def action(name, uuid=None, parents=None, server=None):
    item = fakes.entry(name, uuid, parents)
    if server:
        item['input_parameters']['resource_id'] = server
    return item


class FakeGateway(object):
    """Answers get_server from a dict of ServerViews."""

    def __init__(self, *servers):
        self.servers = {s.id: s for s in servers}

    def get_server(self, server_id):
        return self.servers.get(server_id)


def view(server_id=SERVER, host='host2', status='ACTIVE', name='web-1'):
    return nova_gateway.ServerView(id=server_id, name=name, status=status,
                                   task_state=None, host=host)


class Harness(object):
    """A Tool on string streams, connected to a fake gateway."""

    def __init__(self, monkeypatch, gateway=None):
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()
        self.connected = []
        self.gateway = gateway or FakeGateway()
        self.tool = cli.Tool(self.stdout, self.stderr, fakes.FakeAction,
                             isatty=False)

        def connect(args):
            self.connected.append(args)
            return {}, cli.Clients(None), self.gateway
        monkeypatch.setattr(self.tool, 'connect', connect)

    def main(self, *argv):
        return self.tool.main(list(argv))

    @property
    def out(self):
        return self.stdout.getvalue()


def write_plan(tmp_path, *actions):
    path = tmp_path / 'plan.json'
    path.write_text(json.dumps(list(actions)))
    return str(path)


def summary_rows(out):
    """{action label: row cells} of the summary table."""
    lines = out.split('\n\n')[-2].splitlines()
    return {line.split('  ')[0].strip(): line for line in lines[2:]}


def test_run_exits_0_when_every_action_succeeded_or_skipped(monkeypatch,
                                                            tmp_path):
    plan = write_plan(tmp_path, action('ok-1'), action('skip-2'))
    assert Harness(monkeypatch).main('run', plan) == 0


def test_run_exits_1_when_an_action_failed(monkeypatch, tmp_path):
    plan = write_plan(tmp_path, action('ok-1'), action('crash-2'))
    assert Harness(monkeypatch).main('run', plan) == 1


def test_run_exits_1_when_an_action_was_not_run(monkeypatch, tmp_path):
    plan = write_plan(tmp_path, action('fail-1', 'a'),
                      action('ok-2', 'b', ['a']))
    harness = Harness(monkeypatch)
    assert harness.main('run', plan) == 1
    assert 'not run' in summary_rows(harness.out)['#2 (b)']


def test_run_summary_has_a_row_per_action_with_its_columns(monkeypatch,
                                                           tmp_path):
    plan = write_plan(tmp_path, action('ok-1', 'a', server=SERVER),
                      action('fail-2', 'b'))
    harness = Harness(monkeypatch, FakeGateway(view(host='host2')))
    harness.main('run', plan)
    rows = summary_rows(harness.out)
    assert rows['#1 (a)'].split()[2:9] == [
        'ok-1', 'live', 'host1', 'host2', 'succeeded', 'host2', '(ACTIVE)']
    assert rows['#2 (b)'].endswith('fail-2: host is down')


def test_run_summary_header_names_every_column(monkeypatch, tmp_path):
    harness = Harness(monkeypatch)
    harness.main('run', write_plan(tmp_path, action('ok-1')))
    header = harness.out.split('\n\n')[-2].splitlines()[0]
    assert header.split() == ['action', 'server', 'type', 'from', 'to',
                              'result', 'now', 'on', 'seconds', 'reason']


def test_run_logs_plain_lines_when_not_on_a_terminal(monkeypatch, tmp_path):
    harness = Harness(monkeypatch)
    harness.main('run', write_plan(tmp_path, action('ok-1')))
    assert '\x1b[' not in harness.out
    assert 'succeeded' in harness.out.split('\n\n')[0]


def test_run_refuses_invalid_parameters_before_connecting(monkeypatch,
                                                          tmp_path):
    bad = action('ok-1')
    bad['input_parameters']['migration_type'] = 'teleport'
    harness = Harness(monkeypatch)
    harness.tool.action_class = migrate_action.Migrate
    code = harness.main('run', write_plan(tmp_path, bad))
    assert (code, harness.connected) == (2, [])
    assert "action #1: Invalid input parameters: 'migration_type'" in \
        harness.stderr.getvalue()


def test_invalid_plan_exits_2_with_the_problem(monkeypatch, tmp_path):
    harness = Harness(monkeypatch)
    plan = write_plan(tmp_path, action('ok-1', 'a', ['zz']))
    assert harness.main('check', plan) == 2
    assert "action #1 (a): parents: unknown action uuid 'zz'" in \
        harness.stderr.getvalue()


def test_check_prints_each_verdict(monkeypatch, tmp_path):
    harness = Harness(monkeypatch)
    harness.main('check', write_plan(tmp_path, action('ok-1'),
                                     action('skip-2'), action('fail-3')))
    rows = harness.out.splitlines()[2:5]
    assert [r.split('  ')[0] for r in rows] == ['#1', '#2', '#3']
    assert ['ready' in rows[0], 'would skip' in rows[1],
            'would fail' in rows[2]] == [True, True, True]
    assert '1 ready, 1 would skip, 1 would fail' in harness.out


def test_check_exits_0_when_nothing_would_fail(monkeypatch, tmp_path):
    harness = Harness(monkeypatch)
    code = harness.main('check', write_plan(tmp_path, action('ok-1'),
                                            action('skip-2')))
    assert code == 0


def test_check_exits_1_when_an_action_would_fail(monkeypatch, tmp_path):
    harness = Harness(monkeypatch)
    code = harness.main('check', write_plan(tmp_path, action('fail-1')))
    assert code == 1


def test_migrate_takes_the_source_from_nova(monkeypatch):
    harness = Harness(monkeypatch, FakeGateway(view(host='host7',
                                                    name='ok-web')))
    assert harness.main('migrate', SERVER, '--to', 'host2') == 0
    row = summary_rows(harness.out)['#1']
    assert row.split()[1:5] == ['ok-web', 'live', 'host7', 'host2']


def test_migrate_from_and_cold_are_passed_to_the_action(monkeypatch):
    harness = Harness(monkeypatch, FakeGateway(view(host='host3',
                                                    name='ok-web')))
    harness.main('migrate', SERVER, '--to', 'host2', '--from', 'host3',
                 '--cold')
    row = summary_rows(harness.out)['#1']
    assert row.split()[1:5] == ['ok-web', 'cold', 'host3', 'host2']


def test_migrate_unknown_server_is_an_error(monkeypatch):
    harness = Harness(monkeypatch)
    harness.gateway.client = type('C', (), {'servers': type(
        'S', (), {'list': staticmethod(lambda search_opts: [])})})
    assert harness.main('migrate', 'nope', '--to', 'host2') == 2
    assert "no server with id or name 'nope'" in harness.stderr.getvalue()


def test_ctrl_c_aborts_the_running_action_and_exits_130(
        monkeypatch, tmp_path):
    harness = Harness(monkeypatch)
    plan = write_plan(tmp_path, action('block-1'))

    def interrupt_when_running():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (
                'block-1', 'execute') not in fakes.FakeAction.log:
            time.sleep(0.01)
        _thread.interrupt_main()

    # A test run started in the background (``cmd &``) inherits SIGINT
    # ignored, and interrupt_main() then does nothing: give the process
    # Python's own Ctrl-C handler, as an interactive shell would.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=interrupt_when_running, daemon=True).start()
        code = harness.main('run', plan)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert code == 130
    assert ('block-1', 'abort') in fakes.FakeAction.log
    assert 'aborted' in summary_rows(harness.out)['#1']


def test_authentication_failure_is_one_error_before_any_action(monkeypatch):
    class Session(object):
        def get_auth_headers(self):
            raise ks_exceptions.Unauthorized('The request you have made '
                                             'requires authentication.')

    monkeypatch.setattr(cli, 'load_session',
                        lambda args: (Session(), None, None))
    with pytest.raises(cli.CliError, match='authentication failed: '
                                           'Unauthorized'):
        cli.Tool(io.StringIO(), io.StringIO()).connect(parse('check', 'p'))


# -- authentication settings: one line naming what is missing ---------------


def main_with_env(monkeypatch, tmp_path, env, *extra):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    stdout, stderr = io.StringIO(), io.StringIO()
    code = cli.Tool(stdout, stderr, fakes.FakeAction, isatty=False).main(
        ['check', write_plan(tmp_path, action('ok-1'))] + list(extra))
    return code, stderr.getvalue()


def without(*names):
    return {k: v for k, v in AUTH_ENV.items() if k not in names}


@pytest.mark.parametrize('env,line', [
    ({'OS_AUTH_URL': AUTH_ENV['OS_AUTH_URL'], 'OS_USERNAME': 'operator'},
     'missing authentication settings: --os-password or OS_PASSWORD; '
     '--os-project-id or OS_PROJECT_ID (or --os-project-name, '
     '--os-domain-id, --os-domain-name, --os-system-scope); '
     '--os-user-domain-id or OS_USER_DOMAIN_ID (or --os-user-domain-name, '
     '--os-default-domain-id, --os-default-domain-name)'),
    (without('OS_PASSWORD'),
     'missing authentication setting: --os-password or OS_PASSWORD'),
    ({}, 'missing authentication setting: --os-auth-url or OS_AUTH_URL'),
    (without('OS_USERNAME'),
     'missing authentication setting: --os-username or OS_USERNAME (or '
     '--os-user-id)'),
    (without('OS_PROJECT_NAME'),
     'missing authentication setting: --os-project-id or OS_PROJECT_ID (or '
     '--os-project-name, --os-domain-id, --os-domain-name, '
     '--os-system-scope)'),
    (without('OS_PROJECT_DOMAIN_NAME'),
     'missing authentication setting: --os-project-domain-id or '
     'OS_PROJECT_DOMAIN_ID (or --os-project-domain-name, '
     '--os-default-domain-id, --os-default-domain-name)'),
], ids=['url-and-user-only', 'no-password', 'nothing', 'no-user',
        'no-project', 'no-project-domain'])
def test_missing_auth_setting_is_one_line_naming_it_and_exits_2(
        monkeypatch, tmp_path, env, line):
    code, err = main_with_env(monkeypatch, tmp_path, env)
    assert (code, err) == (2, 'watcher-migrate: %s\n' % line)


def test_auth_settings_given_as_options_count(monkeypatch, tmp_path):
    with pytest.raises(cli.CliError, match='--os-password or OS_PASSWORD$'):
        cli.load_session(parse(
            'check', 'p', '--os-auth-url', AUTH_ENV['OS_AUTH_URL'],
            '--os-username', 'u', '--os-project-id', 'p1',
            '--os-user-domain-name', 'Default'))


def test_ids_need_no_domain(monkeypatch):
    monkeypatch.setenv('OS_AUTH_URL', AUTH_ENV['OS_AUTH_URL'])
    monkeypatch.setenv('OS_USER_ID', 'u1')
    monkeypatch.setenv('OS_PASSWORD', PASSWORD)
    monkeypatch.setenv('OS_PROJECT_ID', 'p1')
    session, _, _ = cli.load_session(parse('check', 'p'))
    assert session.auth._user_id == 'u1'


def test_unknown_os_cloud_is_one_line_naming_it(monkeypatch, tmp_path):
    clouds = tmp_path / 'clouds.yaml'
    clouds.write_text(json.dumps({'clouds': {'prod': {
        'auth': {'auth_url': 'https://prod.example.org/v3'}}}}))
    monkeypatch.setenv('OS_CLIENT_CONFIG_FILE', str(clouds))
    code, err = main_with_env(monkeypatch, tmp_path, {}, '--os-cloud',
                              'staging')
    assert code == 2
    assert err.startswith("watcher-migrate: cloud 'staging': ")
    assert 'staging' in err.split(':', 2)[2]
    assert len(err.splitlines()) == 1


def test_cloud_missing_a_password_is_one_line_naming_it(
        monkeypatch, tmp_path):
    clouds = tmp_path / 'clouds.yaml'
    clouds.write_text(json.dumps({'clouds': {'prod': {
        'auth': {'auth_url': 'https://prod.example.org/v3',
                 'username': 'u', 'project_name': 'p',
                 'user_domain_name': 'Default',
                 'project_domain_name': 'Default'}}}}))
    monkeypatch.setenv('OS_CLIENT_CONFIG_FILE', str(clouds))
    code, err = main_with_env(monkeypatch, tmp_path, {}, '--os-cloud',
                              'prod')
    assert (code, err) == (
        2, "watcher-migrate: cloud 'prod': missing authentication setting: "
           '--os-password or OS_PASSWORD, or in its auth section of '
           'clouds.yaml\n')


def test_plain_exception_from_keystoneauth_is_one_error(monkeypatch):
    class Session(object):
        def get_auth_headers(self):
            # keystoneauth1's generic password plugin, without a password.
            raise Exception('password is a required attribute')

    monkeypatch.setattr(cli, 'load_session',
                        lambda args: (Session(), None, None))
    with pytest.raises(cli.CliError, match='^authentication failed: '
                                           'password is a required'):
        cli.Tool(io.StringIO(), io.StringIO()).connect(parse('check', 'p'))


# -- unreachable services ----------------------------------------------------


def refused():
    """An error shaped like keystoneauth1's for a closed port."""
    try:
        try:
            raise ConnectionRefusedError(111, 'Connection refused')
        except ConnectionRefusedError as e:
            raise OSError('Failed to establish a new connection') from e
    except OSError:
        try:
            raise ks_exceptions.ConnectFailure('Unable to establish '
                                               'connection')
        except ks_exceptions.ConnectFailure as e:
            return e


def test_why_unreachable_finds_a_refused_connection_in_the_chain():
    assert cli.why_unreachable(refused()) == 'connection refused'


def test_why_unreachable_finds_a_name_not_resolved():
    error = ks_exceptions.ConnectFailure('x')
    error.__context__ = socket.gaierror(-2, 'Name or service not known')
    assert cli.why_unreachable(error) == ('host name not resolved (Name or '
                                          'service not known)')


def test_why_unreachable_leaves_other_errors_alone():
    assert cli.why_unreachable(ks_exceptions.ServiceUnavailable()) is None


def test_unreachable_keystone_is_one_line_exit_3(monkeypatch, tmp_path):
    class Session(object):
        class auth(object):
            auth_url = 'http://127.0.0.1:9/v3'

        def get_auth_headers(self):
            raise refused()

    monkeypatch.setattr(cli, 'load_session',
                        lambda args: (Session(), None, None))
    stdout, stderr = io.StringIO(), io.StringIO()
    code = cli.Tool(stdout, stderr, fakes.FakeAction, isatty=False).main(
        ['check', write_plan(tmp_path, action('ok-1'))])
    assert (code, stderr.getvalue()) == (
        3, 'watcher-migrate: cannot reach Keystone at http://127.0.0.1:9/v3:'
           ' connection refused\n')


# -- the same parameter, the same exit code --------------------------------


@pytest.mark.parametrize('command', ['check', 'run'])
def test_invalid_parameters_exit_2_before_connecting(monkeypatch, tmp_path,
                                                     command):
    bad = action('ok-1')
    bad['input_parameters']['migration_type'] = 'teleport'
    harness = Harness(monkeypatch)
    harness.tool.action_class = migrate_action.Migrate
    code = harness.main(command, write_plan(tmp_path, bad))
    assert (code, harness.connected) == (2, [])
    assert "action #1: Invalid input parameters: 'migration_type'" in \
        harness.stderr.getvalue()


# -- not found, --strict -----------------------------------------------------


def test_check_shows_not_found_apart_from_would_skip(monkeypatch, tmp_path):
    harness = Harness(monkeypatch)
    harness.main('check', write_plan(tmp_path, action('skip-1'),
                                     action('gone-2')))
    assert '2 actions: 0 ready, 1 would skip, 1 not found, 0 would fail' \
        in harness.out
    assert 'not found' in harness.out.splitlines()[3]


def test_check_warns_when_no_server_of_the_plan_exists(
        monkeypatch, tmp_path):
    harness = Harness(monkeypatch)
    code = harness.main('check', write_plan(tmp_path, action('gone-1'),
                                            action('gone-2')))
    assert code == 0
    assert harness.stderr.getvalue() == (
        'watcher-migrate: warning: no server of the plan exists in this '
        'cloud (2 actions): mistyped UUIDs, or the wrong cloud or region? '
        '(--strict makes this exit 1)\n')


def test_check_does_not_warn_when_some_server_exists(monkeypatch, tmp_path):
    harness = Harness(monkeypatch)
    harness.main('check', write_plan(tmp_path, action('gone-1'),
                                     action('skip-2')))
    assert harness.stderr.getvalue() == ''


@pytest.mark.parametrize('command', ['check', 'run'])
def test_strict_exits_1_when_a_server_is_not_found(monkeypatch, tmp_path,
                                                   command):
    plan = write_plan(tmp_path, action('ok-1'), action('gone-2'))
    assert (Harness(monkeypatch).main(command, plan),
            Harness(monkeypatch).main(command, plan, '--strict')) == (0, 1)


# -- migrate speaks of one server ------------------------------------------


def test_migrate_to_the_host_the_server_is_on_does_nothing(monkeypatch):
    harness = Harness(monkeypatch, FakeGateway(view(host='host2',
                                                    name='ok-web')))
    code = harness.main('migrate', SERVER, '--to', 'host2')
    assert (code, harness.out, fakes.FakeAction.log) == (
        0, 'server %s is already on host2: nothing to do\n' % SERVER, [])


def test_migrate_from_a_host_the_server_is_not_on_moves_nothing(
        monkeypatch):
    harness = Harness(monkeypatch, FakeGateway(view(host='host7',
                                                    name='ok-web')))
    code = harness.main('migrate', SERVER, '--to', 'host2', '--from',
                        'host3')
    assert (code, harness.stderr.getvalue(), fakes.FakeAction.log) == (
        1, 'watcher-migrate: server %s is on host7, not on host3: nothing '
           'was moved\n' % SERVER, [])


# -- output ------------------------------------------------------------------


@pytest.mark.parametrize('command', ['check', 'run', 'migrate'])
def test_help_lists_every_exit_code(command, capsys):
    with pytest.raises(SystemExit):
        parse(command, '--help')
    out = capsys.readouterr().out
    codes = [line.split()[0] for line in
             out.split('exit codes (every command):')[1].splitlines()
             if line[:5].strip().isdigit()]
    assert codes == ['0', '1', '2', '3', '130']


def gateway_warning(verbose):
    stderr = io.StringIO()
    tool = cli.Tool(io.StringIO(), stderr)
    argv = ['check', 'p'] + (['-v'] if verbose else [])
    tool.setup_logging(parse(*argv))
    try:
        nova_gateway.LOG.warning('Nova API call %s failed (%s); retrying '
                                 'in %.1f s', 'get', 'refused', 1.0)
        nova_gateway.LOG.warning('Something else')
    finally:
        tool.teardown_logging()
    return stderr.getvalue()


def test_retry_warnings_are_shown_only_with_verbose():
    quiet, verbose = gateway_warning(False), gateway_warning(True)
    assert ('retrying' in quiet, 'retrying' in verbose) == (False, True)
    assert 'Something else' in quiet


class MovableAction(object):
    def __init__(self, config, osc=None):
        self.config = config

    def check_movable(self, request, server):
        return 'checked %s' % server


def test_observing_action_keeps_the_server_its_check_read():
    action = cli.observing(MovableAction)({})
    before = action.server_seen
    assert action.check_movable(None, 'web-1') == 'checked web-1'
    assert (before, action.server_seen) == (plan_runner.NOT_READ, 'web-1')


# -- recover ------------------------------------------------------------------

def test_recover_dry_run_without_a_journal_creates_none(
        tmp_path, _private_journal):
    out = io.StringIO()
    code = cli.Tool(stdout=out, stderr=io.StringIO(), isatty=False).main(
        ['recover', '--dry-run'])
    assert code == 0
    assert out.getvalue() == 'journal %s: no moves in flight\n' % (
        _private_journal)
    assert not _private_journal.parent.exists()


def test_recover_dry_run_lists_each_entry_with_its_owner_and_intent(
        _private_journal):
    from watcher_migrate import journal
    store = journal.Journal(str(_private_journal))
    store.add(journal.Entry(
        server_id='6f1c3d56-1f7e-4a39-9a57-0a0c25b5b3e1',
        migration_type='live', source='host1', destination='',
        deadline=0.0, timeout_action='force_complete',
        owner=journal.Owner('applier-2', 4242, 1, 'b')))
    out = io.StringIO()
    code = cli.Tool(stdout=out, stderr=io.StringIO(), isatty=False).main(
        ['recover', '--dry-run'])
    text = out.getvalue()
    assert code == 0
    assert '6f1c3d56-1f7e-4a39-9a57-0a0c25b5b3e1' in text
    assert '(scheduler)' in text
    assert 'applier-2 pid 4242 (owner on another host)' in text
    assert 'would leave it: recover it on applier-2' in text


def test_recover_names_a_journal_it_cannot_use(tmp_path):
    garbage = tmp_path / 'journal.sqlite'
    garbage.write_text('not a database, but long enough to be read as one')
    config = tmp_path / 'c.conf'
    config.write_text('[watcher_actions.nova_migrate]\njournal_path = %s\n'
                      % garbage)
    err = io.StringIO()
    code = cli.Tool(stdout=io.StringIO(), stderr=err, isatty=False).main(
        ['recover', '--dry-run', '--config-file', str(config)])
    assert code == cli.EXIT_USAGE
    assert str(garbage) in err.getvalue()
    assert 'not a database' in err.getvalue()
