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

"""``watcher-migrate``: check or run migration plans without Watcher.

The same ``nova_migrate`` action the Watcher applier runs, driven the same
way (taskflow graph flow, parallel engine), from an operator's shell:

- ``check PLAN``: would each action run, skip or fail, and why (reads only);
- ``run PLAN``: run the plan with live progress and a summary;
- ``migrate SERVER --to HOST``: one server;
- ``recover [--dry-run]``: settle the moves in flight that a dead process
  left in the journal (``recovery``).

Authentication comes from the usual ``OS_*`` variables and ``--os-*``
options (keystoneauth1), or ``--os-cloud`` and clouds.yaml when openstacksdk
is installed. Plugin options come from ``--config-file`` (the
``[watcher_actions.nova_migrate]`` group of an oslo.config file) and a few
flags.
"""

import argparse
import errno
import logging
import os
import re
import signal
import socket
import sys
import threading
import time
import warnings

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import loading as ks_loading
from oslo_config import cfg
import requests

from watcher_migrate import action as migrate_action
from watcher_migrate import console
from watcher_migrate import context as process_context
from watcher_migrate import exceptions
from watcher_migrate import journal
from watcher_migrate import nova_gateway
from watcher_migrate import options
from watcher_migrate import parameters
from watcher_migrate import plan as plan_file
from watcher_migrate import plan_runner
from watcher_migrate import recovery
from watcher_migrate import tuning

LOG = logging.getLogger(__name__)

PROG = 'watcher-migrate'
EXIT_USAGE = plan_runner.EXIT_USAGE

INTERFACES = ('public', 'internal', 'admin')

# Libraries whose DEBUG logs show HTTP traffic: kept at WARNING even with
# --debug, since request bodies may hold credentials.
QUIET_LOGGERS = ('keystoneauth', 'keystoneauth1', 'novaclient', 'urllib3',
                 'stevedore', 'taskflow', 'openstack')

_UUID_RE = re.compile(r'^[0-9a-fA-F]{8}(-?[0-9a-fA-F]{4}){3}-?'
                      r'[0-9a-fA-F]{12}$')


class CliError(Exception):
    """A problem with what the operator asked; exit code 2."""

    exit_code = plan_runner.EXIT_USAGE


class Unreachable(CliError):
    """Keystone or the compute API cannot be reached; exit code 3."""

    exit_code = plan_runner.EXIT_UNREACHABLE


def why_unreachable(error):
    """'connection refused', 'name not resolved', ... or None.

    None unless the error says the connection could not even be opened:
    no request reached the service, and trying again at once would only
    find the same.
    """
    seen = set()
    pending = [error]
    while pending:
        exc = pending.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        if isinstance(exc, ConnectionRefusedError):
            return 'connection refused'
        if isinstance(exc, socket.gaierror):
            return 'host name not resolved (%s)' % (exc.strerror or exc)
        if type(exc).__name__ == 'NameResolutionError':
            return 'host name not resolved'
        if isinstance(exc, (requests.exceptions.ConnectTimeout,
                            ks_exceptions.ConnectTimeout)) or \
                type(exc).__name__ == 'ConnectTimeoutError':
            return 'connection timed out'
        if isinstance(exc, OSError) and exc.errno in (
                errno.EHOSTUNREACH, errno.ENETUNREACH):
            return os.strerror(exc.errno).lower()
        pending.extend(a for a in getattr(exc, 'args', ())
                       if isinstance(a, BaseException))
        pending.extend([getattr(exc, 'reason', None), exc.__cause__,
                        exc.__context__])
    return None


class Clients(object):
    """The ``osc`` the action gets: only the keystoneauth1 session."""

    def __init__(self, session):
        self.session = session


# -- arguments ----------------------------------------------------------------


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not an integer' % text)
    if value < 1:
        raise argparse.ArgumentTypeError('must be at least 1, got %d' % value)
    return value


def _add_plugin_options(parser):
    group = parser.add_argument_group(
        'plugin options', 'Override the [%s] options of the config files.'
        % options.GROUP)
    group.add_argument(
        '--config-file', metavar='PATH', action='append', default=[],
        help='oslo.config file with a [%s] section (poll intervals, '
             'timeouts, timeout_action, auto_confirm, ...); may be repeated,'
             ' later files win' % options.GROUP)
    group.add_argument(
        '--live-timeout', metavar='SECONDS', type=int,
        help='seconds a live migration may take before --timeout-action '
             '(0: sized from the server)')
    group.add_argument(
        '--timeout-action',
        choices=(options.TIMEOUT_ABORT, options.TIMEOUT_FORCE_COMPLETE),
        help='what to do with a live migration still running at its '
             'timeout')
    group.add_argument(
        '--no-auto-confirm', dest='auto_confirm', action='store_false',
        default=None,
        help='leave cold migrated servers in VERIFY_RESIZE for an operator '
             'to confirm')


def _add_output_options(parser):
    group = parser.add_argument_group('output')
    group.add_argument('-v', '--verbose', action='store_true',
                       help="show the action's INFO log lines, the "
                            "retries of Nova API calls and the servers' "
                            'UUIDs in the tables')
    group.add_argument('--debug', action='store_true',
                       help="show the action's DEBUG log lines (never "
                            'HTTP traffic)')


def _add_auth_options(parser, argv):
    group = parser.add_argument_group(
        'cloud', 'Where Nova is. Defaults come from the OS_* environment '
        'variables, as for the openstack client.')
    group.add_argument(
        '--os-cloud', metavar='NAME',
        help='cloud of clouds.yaml to use (needs openstacksdk); '
             'default: env[OS_CLOUD]')
    group.add_argument(
        '--os-region-name', metavar='REGION',
        help='region of the compute endpoint; default: env[OS_REGION_NAME]')
    group.add_argument(
        '--os-interface', metavar='INTERFACE', choices=INTERFACES,
        help='endpoint interface of the compute service (%s); default: '
             'env[OS_INTERFACE], else public' % ', '.join(INTERFACES))
    ks_loading.register_auth_argparse_arguments(parser, argv,
                                                default='password')
    ks_loading.register_session_argparse_arguments(parser)


def _add_common(parser, argv):
    _add_plugin_options(parser)
    _add_output_options(parser)
    _add_auth_options(parser, argv)


# The same table as README's "Command-line tool" section.
EXIT_CODES = """exit codes (every command):
  0    every action succeeded or was skipped (check: ready, would skip or
       not found); migrate: the server is already on --to
  1    an action failed or was not run (check: would fail, or not checked);
       with --strict also a server not found; migrate: the server is not
       on --from
  2    bad usage, invalid plan or parameters, configuration, missing or
       refused authentication settings; nothing was sent to Nova
  3    Keystone or the compute API cannot be reached or used; nothing was
       checked or moved
  130  interrupted (running migrations were aborted and Nova had settled)
"""


def _add_strict(parser):
    parser.add_argument(
        '--strict', action='store_true',
        help='exit 1 if the server of any action is not found (a mistyped '
             'UUID, or the wrong cloud), instead of counting it a skip')


def build_parser(argv=()):
    """The argument parser; ``argv`` picks the auth plugin's options."""
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog=PROG, formatter_class=raw,
        description='Check or run server migration plans (Watcher action '
                    'plans of nova_migrate or migrate actions) with the '
                    'watcher-migrate action, without Watcher.',
        epilog=EXIT_CODES + '\n"%s COMMAND --help" shows the options.'
        % PROG)
    commands = parser.add_subparsers(dest='command', metavar='COMMAND')
    commands.required = True

    check = commands.add_parser(
        'check', help='say what each action of a plan would do; move '
                      'nothing', formatter_class=raw, epilog=EXIT_CODES,
        description='Validate a plan and run every action\'s parameter '
                    'validation and pre-condition against the cloud: each '
                    'action is "ready", "would skip", "not found" (no such '
                    'server) or "would fail", with the reason. Only reads: '
                    'nothing is moved.')
    check.add_argument('plan', metavar='PLAN',
                       help='JSON or YAML file: a list of actions, or '
                            '{"actions": [...]}')
    _add_strict(check)

    run = commands.add_parser(
        'run', help='run a plan', formatter_class=raw, epilog=EXIT_CODES,
        description='Run a plan: actions wait for their parents and run in '
                    'parallel otherwise; the children of a failed action '
                    'are not run. Ctrl-C aborts the running migrations and '
                    'waits for Nova to settle.')
    _add_strict(run)
    run.add_argument('plan', metavar='PLAN',
                     help='JSON or YAML file: a list of actions, or '
                          '{"actions": [...]}')
    run.add_argument('--workers', metavar='N', type=_positive_int,
                     default=plan_runner.DEFAULT_WORKERS,
                     help='actions run at the same time at most (default: '
                          '%d)' % plan_runner.DEFAULT_WORKERS)

    migrate = commands.add_parser(
        'migrate', help='migrate one server', formatter_class=raw,
        epilog=EXIT_CODES,
        description='Live (or cold) migrate one server to a host, with the '
                    'same checks, progress and clean abort as "run". A '
                    'server already on --to is left alone (exit 0); one '
                    'not on --from is not moved (exit 1).')
    migrate.add_argument('server', metavar='SERVER',
                         help='server UUID or name')
    migrate.add_argument('--to', dest='destination', metavar='HOST',
                         required=True, help='destination compute host')
    migrate.add_argument('--from', dest='source', metavar='HOST',
                         help='expected source host (default: the host the '
                              'server is on now)')
    migrate.add_argument('--cold', action='store_true',
                         help='cold migrate (default: live)')

    recover = commands.add_parser(
        'recover', help='settle the migrations a dead process left',
        formatter_class=raw, epilog=EXIT_CODES,
        description='List the journal of moves in flight (journal_path) '
                    'and settle each move whose process is gone, with what '
                    'Nova shows: a live migration still running is followed '
                    'until its deadline, then aborted or forced to complete '
                    '(its timeout_action); a cold one at VERIFY_RESIZE is '
                    'confirmed, or reverted if it was being stopped; one '
                    'that ended is dropped. Moves of a running process, or '
                    'of another host, are left alone. The first migration '
                    'of every applier or command does the same.')
    recover.add_argument('--dry-run', action='store_true',
                         help='only list the entries and what would be '
                              'done; no request to Nova, no change to the '
                              'journal')

    for sub in (check, run, migrate, recover):
        _add_common(sub, argv)
    return parser


# -- configuration and session ------------------------------------------------


def plugin_config(args, interface=None, region_name=None):
    """Option values for the action: config files, then flags.

    :raises CliError: on a missing or invalid config file
    """
    conf = cfg.ConfigOpts()
    conf.register_opts(options.all_opts(), group=options.GROUP)
    try:
        conf(args=[], project=PROG, default_config_files=args.config_file,
             use_env=False)
        group = conf[options.GROUP]
        values = {opt.dest: group[opt.dest]
                  for opt in options.MIGRATION_OPTS}
        values['timeout'] = group['timeout']
    except (cfg.Error, ValueError) as e:
        raise CliError('configuration: %s' % e)
    finally:
        conf.clear()
    if args.live_timeout is not None:
        if args.live_timeout < 0:
            raise CliError('--live-timeout must be 0 or more')
        values['live_timeout'] = args.live_timeout
    if args.timeout_action is not None:
        values['timeout_action'] = args.timeout_action
    if args.auto_confirm is not None:
        values['auto_confirm'] = args.auto_confirm
    if getattr(args, 'timeout', None):
        values['timeout'] = args.timeout
    if interface:
        values['interface'] = interface
    if region_name:
        values['region_name'] = region_name
    return values


def _env(name):
    return os.environ.get(name) or None


# What the password plugins need that keystoneauth1 does not declare
# required (it fails later, with a traceback, when it authenticates).
PASSWORD_PLUGINS = ('password', 'v3password')
# Each entry: any one of these settings will do.
PASSWORD_NEEDS = (
    ('password',),
    ('username', 'user-id'),
    # The compute API needs a token scoped to a project (or a domain, or
    # the system, if the policy allows): an unscoped one has no catalog.
    ('project-id', 'project-name', 'domain-id', 'domain-name',
     'system-scope'),
)
NAME_NEEDS_DOMAIN = {
    'username': ('user-domain-id', 'user-domain-name',
                 'default-domain-id', 'default-domain-name'),
    'project-name': ('project-domain-id', 'project-domain-name',
                     'default-domain-id', 'default-domain-name'),
}


def setting_name(option):
    """'--os-auth-url or OS_AUTH_URL' for keystoneauth1's ``auth-url``."""
    option = option.replace('_', '-')
    return '--os-%s or OS_%s' % (option, option.replace('-', '_').upper())


def _missing_settings(names):
    """'missing authentication setting: ...' for alternatives' lists."""
    parts = []
    for alternatives in names:
        first = setting_name(alternatives[0])
        if len(alternatives) > 1:
            first += ' (or %s)' % ', '.join(
                '--os-%s' % a for a in alternatives[1:])
        parts.append(first)
    return 'missing authentication setting%s: %s' % (
        's' if len(parts) > 1 else '', '; '.join(parts))


def check_auth_settings(args):
    """Say what a password auth lacks, before keystoneauth1 trips on it.

    :raises CliError: naming every missing setting, with its option and
        its OS_* variable
    """
    def given(option):
        return bool(getattr(args, 'os_' + option.replace('-', '_'), None))

    missing = _missing_password_settings(
        getattr(args, 'os_auth_type', None), given)
    if missing:
        raise CliError(_missing_settings(missing))


def _missing_password_settings(auth_type, given):
    """The alternatives' lists of which no setting is ``given``."""
    if (auth_type or 'password') not in PASSWORD_PLUGINS:
        return []
    missing = [alternatives for alternatives in PASSWORD_NEEDS
               if not any(given(a) for a in alternatives)]
    for name, domains in NAME_NEEDS_DOMAIN.items():
        # An id is unique; a name needs the domain it is in.
        if given(name) and not given(name.replace('name', 'id')) and \
                not any(given(d) for d in domains):
            missing.append(domains)
    return missing


def check_cloud_auth(cloud, config):
    """The same as :func:`check_auth_settings` for a clouds.yaml cloud.

    :param config: openstacksdk's merged settings of the cloud (its
        clouds.yaml entry, OS_* variables and --os-* options)
    """
    auth = config.get('auth') or {}

    def given(option):
        return bool(auth.get(option.replace('-', '_')))

    missing = _missing_password_settings(config.get('auth_type'), given)
    if missing:
        raise CliError('cloud %r: %s, or in its auth section of clouds.yaml'
                       % (cloud, _missing_settings(missing)))


def load_session(args):
    """The keystoneauth1 session, the interface and the region.

    With ``--os-cloud`` (or OS_CLOUD) and openstacksdk installed, from
    clouds.yaml merged with the --os-* options; otherwise from the --os-*
    options and OS_* variables through keystoneauth1's loaders. TLS is
    verified unless --insecure.

    :raises CliError: when the options do not make a usable auth, naming
        what is missing
    """
    cloud = args.os_cloud or _env('OS_CLOUD')
    interface = args.os_interface or _env('OS_INTERFACE')
    region_name = args.os_region_name or _env('OS_REGION_NAME')
    if interface and interface not in INTERFACES:
        raise CliError('OS_INTERFACE must be one of %s, got %r'
                       % (', '.join(INTERFACES), interface))
    if cloud:
        return _load_cloud(cloud, args, interface, region_name)
    try:
        auth = ks_loading.load_auth_from_argparse_arguments(args)
    except ks_exceptions.MissingRequiredOptions as e:
        # keystoneauth1 names the plugin's required options it lacks.
        raise CliError(_missing_settings([(o.name,) for o in e.options]))
    except ks_exceptions.ClientException as e:
        raise CliError('authentication: %s (set the OS_* variables, the '
                       '--os-* options or --os-cloud)' % e)
    check_auth_settings(args)
    try:
        session = ks_loading.load_session_from_argparse_arguments(
            args, auth=auth)
    except ks_exceptions.ClientException as e:
        raise CliError('authentication: %s' % e)
    return session, interface, region_name


def _load_cloud(cloud, args, interface, region_name):
    try:
        from openstack import config as os_config
        from openstack import exceptions as os_exceptions
    except ImportError:
        raise CliError('--os-cloud/OS_CLOUD needs openstacksdk (pip '
                       'install openstacksdk), or use the OS_* variables')
    try:
        with warnings.catch_warnings():
            # openstacksdk's deprecation warnings are for its developers,
            # not for the operator running this tool.
            warnings.simplefilter('ignore')
            region = os_config.OpenStackConfig().get_one(
                cloud=cloud, argparse=args)
            check_cloud_auth(cloud, region.config)
            session = region.get_session()
    except (os_exceptions.SDKException, ks_exceptions.ClientException) as e:
        raise CliError('cloud %r: %s' % (cloud, e))
    return (session, interface or region.get_interface('compute'),
            region_name or region.get_region_name('compute'))


# -- the tool -----------------------------------------------------------------


class Tool(object):
    """The commands, with their streams and the action class injectable.

    :param context: the ``context.ProcessContext`` of the run's gateways
        and actions (the probe's microversion serves them all); the
        process's if None
    """

    def __init__(self, stdout=None, stderr=None,
                 action_class=migrate_action.Migrate, isatty=None,
                 context=None):
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.action_class = action_class
        self.context = (process_context.default() if context is None
                        else context)
        self.isatty = (self.stdout.isatty() if isatty is None else isatty)
        self._log_handler = None
        self._display_handler = None

    # -- plumbing ------------------------------------------------------------

    def setup_logging(self, args):
        level = (logging.DEBUG if args.debug
                 else logging.INFO if args.verbose else logging.WARNING)
        handler = logging.StreamHandler(self.stderr)
        handler.setFormatter(logging.Formatter(
            '%(asctime)s %(levelname)s %(name)s: %(message)s', '%H:%M:%S'))
        if not (args.verbose or args.debug):
            handler.addFilter(_quiet_retries)
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.WARNING)
        logging.getLogger('watcher_migrate').setLevel(level)
        # Without -v only errors: keystoneauth1 warns, for instance, of
        # each failed version discovery before the one-line error.
        quiet = (logging.WARNING if args.verbose or args.debug
                 else logging.ERROR)
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(quiet)
        self._log_handler = handler

    def teardown_logging(self):
        if self._log_handler is not None:
            logging.getLogger().removeHandler(self._log_handler)
            self._log_handler = None

    def connect(self, args):
        """The action's config and osc, and a gateway for reads.

        Authenticates and reaches the compute API once, before any action:
        a wrong setting or an unreachable cloud is one clear error, not the
        same failure (and retry budget) repeated for every action.

        :raises CliError: authentication refused or impossible
        :raises Unreachable: Keystone or the compute API cannot be reached
        """
        session, interface, region_name = load_session(args)
        config = plugin_config(args, interface, region_name)
        try:
            session.get_auth_headers()
        except ks_exceptions.ClientException as e:
            why = why_unreachable(e)
            if why:
                raise Unreachable('cannot reach Keystone at %s: %s' % (
                    getattr(getattr(session, 'auth', None), 'auth_url',
                            None) or 'its auth URL', why))
            raise CliError('authentication failed: %s'
                           % plan_runner.reason_of(e))
        except Exception as e:
            # keystoneauth1 raises plain exceptions for some settings it
            # finds missing only now (e.g. a password of clouds.yaml).
            raise CliError('authentication failed: %s' % e)
        gateway = nova_gateway.NovaGateway(
            session, options.Settings(config), context=self.context)
        self._probe(session, config, gateway)
        return config, Clients(session), gateway

    @staticmethod
    def _probe(session, config, gateway):
        """Reach the compute API once (its version document), untried.

        A connection that cannot even be opened is not worth the actions'
        retry budget (60 s each by default): say so and stop. Anything
        else transient gets the budget once, here. The version found is
        kept in the gateway's context, the actions', so they do not ask
        again.
        """
        probe = nova_gateway.NovaGateway(
            session, options.Settings(dict(config, api_retry_timeout=0)),
            context=gateway.context)
        try:
            probe.client
            return
        except exceptions.NovaUnavailable as e:
            why = why_unreachable(e)
            if why:
                raise Unreachable('cannot reach the compute API at %s: %s'
                                  % (probe.endpoint or 'its endpoint', why))
            if not nova_gateway.is_transient(e.__context__):
                raise Unreachable('cannot use the compute API: %s' % e)
        except Exception as e:
            raise Unreachable('cannot use the compute API: %s'
                              % plan_runner.reason_of(e))
        try:
            gateway.client
        except Exception as e:
            raise Unreachable('cannot use the compute API: %s'
                              % plan_runner.reason_of(e))

    def factory(self, config, osc):
        action_class = observing(self.action_class)

        def make_action(input_parameters):
            action = action_class(config, osc=osc)
            action.context = self.context
            action.input_parameters = input_parameters
            return action
        return make_action

    def out(self, text=''):
        self.stdout.write(text + '\n')
        self.stdout.flush()

    # -- check ---------------------------------------------------------------

    def check(self, args):
        plan = plan_file.load(args.plan)
        # As run does: an invalid plan is a usage error (exit 2) from both.
        self._validate_parameters(plan)
        config, osc, _gateway = self.connect(args)
        verdicts = plan_runner.check(plan, self.factory(config, osc),
                                     show_ids=args.verbose)
        self.out(check_report(verdicts, show_ids=args.verbose))
        if plan_runner.nothing_exists(verdicts):
            self.warn_nothing_exists(len(verdicts), args.strict)
        return plan_runner.check_exit_code(verdicts, strict=args.strict)

    def warn_nothing_exists(self, count, strict):
        self.stderr.write(
            '%s: warning: no server of the plan exists in this cloud (%d '
            'action%s): mistyped UUIDs, or the wrong cloud or region?%s\n'
            % (PROG, count, '' if count == 1 else 's',
               '' if strict else ' (--strict makes this exit 1)'))

    # -- run -----------------------------------------------------------------

    def run(self, args):
        plan = plan_file.load(args.plan)
        self._validate_parameters(plan)
        config, osc, gateway = self.connect(args)
        return self.execute(plan, config, osc, gateway, args.workers,
                            strict=args.strict, verbose=args.verbose)

    def _validate_parameters(self, plan):
        # No I/O: refuse a plan with invalid parameters before moving
        # anything, rather than half-running it.
        problems = []
        for planned in plan.actions:
            action = self.action_class({}, osc=None)
            action.input_parameters = dict(planned.input_parameters)
            try:
                action.validate_parameters()
            except Exception as e:
                problems.append('action %s: %s'
                                % (planned.label, plan_runner.reason_of(e)))
        if problems:
            raise plan_file.PlanError(plan.source, problems)

    def execute(self, plan, config, osc, gateway, workers, strict=False,
                verbose=False):
        """Run a validated plan with progress; returns the exit code."""
        runner = plan_runner.PlanRunner(plan, self.factory(config, osc),
                                        workers=workers, show_ids=verbose)
        display_class = (console.LiveDisplay if self.isatty
                         else console.LogDisplay)
        display = display_class(self.stdout, runner.records)
        failure = []
        done = threading.Event()

        def engine():
            try:
                runner.run()
            except Exception as e:  # a bug of ours or of taskflow
                LOG.exception('The plan runner failed')
                failure.append(e)
            finally:
                done.set()

        self._route_logs_through(display)
        # Waits use an Event, not Thread.join: a join interrupted by Ctrl-C
        # can mark a running thread as stopped (CPython bpo-45274 fix).
        thread = threading.Thread(target=engine, name='plan-runner',
                                  daemon=True)
        try:
            thread.start()
            try:
                self._follow(done, runner, display)
            except KeyboardInterrupt:
                self._interrupt(done, runner, display)
            display.close()
        finally:
            self._route_logs_through(None)
        runner.locate_servers(lambda server_id: _where(gateway, server_id))
        self.out()
        self.out(console.summary_report(runner.records))
        if failure:
            self.out('The run stopped on an internal error: %s' % failure[0])
            return plan_runner.EXIT_FAILED
        if all(r.not_found for r in runner.records):
            self.warn_nothing_exists(len(runner.records), strict)
        return plan_runner.run_exit_code(runner.records, runner.interrupted,
                                         strict=strict)

    @staticmethod
    def _follow(done, runner, display):
        while not done.wait(tuning.REFRESH_INTERVAL):
            display.refresh()
        runner.wait_aborted()
        display.refresh()

    def _interrupt(self, done, runner, display):
        """Ctrl-C: abort what runs and wait until Nova has settled."""
        restore = None
        if threading.current_thread() is threading.main_thread():
            # Stopping half-way would leave migrations running: a second
            # Ctrl-C only says so.
            def again(_signum, _frame):
                display.write_above('Still aborting: waiting for Nova to '
                                    'settle (kill -9 would leave '
                                    'migrations running)')
            restore = signal.signal(signal.SIGINT, again)
        try:
            running = runner.abort()
            display.write_above(
                'Interrupted: aborting %d running action%s and waiting for '
                'Nova to settle; no new action starts'
                % (len(running), '' if len(running) == 1 else 's'))
            display.footer = 'aborting: waiting for Nova to settle'
            display.aborting = True
            self._follow(done, runner, display)
        finally:
            if restore is not None:
                signal.signal(signal.SIGINT, restore)

    def _route_logs_through(self, display):
        # On a terminal, log lines would tear the live display: print them
        # above it instead of on stderr while it is shown.
        if self._log_handler is None or not self.isatty:
            return
        root = logging.getLogger()
        if display is not None:
            handler = console.DisplayLogHandler(display)
            handler.setFormatter(self._log_handler.formatter)
            root.removeHandler(self._log_handler)
            root.addHandler(handler)
            self._display_handler = handler
        else:
            root.removeHandler(self._display_handler)
            self._display_handler = None
            root.addHandler(self._log_handler)

    # -- migrate -------------------------------------------------------------

    def migrate(self, args):
        config, osc, gateway = self.connect(args)
        server = _find_server(gateway, args.server)
        # Said in the terms the operator used, before any plan exists:
        # "the plan is stale" or "must differ from source_node" would
        # speak of a plan they never wrote.
        if server.host == args.destination:
            self.out('server %s is already on %s: nothing to do'
                     % (args.server, args.destination))
            return plan_runner.EXIT_OK
        if args.source and server.host != args.source:
            self.stderr.write('%s: server %s is on %s, not on %s: nothing '
                              'was moved\n' % (PROG, args.server,
                                               server.host or '(no host)',
                                               args.source))
            return plan_runner.EXIT_FAILED
        source = args.source or server.host
        if not source:
            raise CliError('server %s has no host (status %s): give --from'
                           % (args.server, server.status))
        input_parameters = {
            parameters.RESOURCE_ID: server.id,
            parameters.MIGRATION_TYPE: (parameters.COLD if args.cold
                                        else parameters.LIVE),
            parameters.SOURCE_NODE: source,
            parameters.DESTINATION_NODE: args.destination,
        }
        if server.name:
            input_parameters[parameters.RESOURCE_NAME] = server.name
        plan = plan_file.parse(
            [{plan_file.ACTION_TYPE: 'nova_migrate',
              plan_file.INPUT_PARAMETERS: input_parameters}],
            source='command line')
        self._validate_parameters(plan)
        return self.execute(plan, config, osc, gateway, workers=1,
                            verbose=args.verbose)

    # -- recover -------------------------------------------------------------

    def recover(self, args):
        if args.dry_run:
            # A listing needs no cloud: nothing is read from Nova.
            config = plugin_config(args)
            gateway = None
        else:
            config, _osc, gateway = self.connect(args)
        settings = options.Settings(config)
        path = journal.path_of(settings)
        if args.dry_run and not os.path.exists(path):
            # Not created by a listing: nothing has ever been journaled.
            self.out('journal %s: no moves in flight' % path)
            return plan_runner.EXIT_OK
        try:
            store = self.context.journal(settings)
            store.open()
            if gateway is None:
                findings = recovery.survey(store)
            else:
                findings = recovery.recover(gateway, settings, store)
        except journal.JournalError as e:
            raise CliError(str(e))
        if not findings:
            self.out('journal %s: no moves in flight' % store.path)
            return plan_runner.EXIT_OK
        self.out('journal %s' % store.path)
        self.out(recovery_report(findings, time.time()))
        failed = [f for f in findings
                  if f.done is not None and f.done.startswith('failed')]
        return plan_runner.EXIT_FAILED if failed else plan_runner.EXIT_OK

    COMMANDS = {'check': check, 'run': run, 'migrate': migrate,
                'recover': recover}

    def main(self, argv):
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        self.setup_logging(args)
        try:
            return self.COMMANDS[args.command](self, args)
        except CliError as e:
            self.stderr.write('%s: %s\n' % (PROG, e))
            return e.exit_code
        except plan_file.PlanError as e:
            self.stderr.write('%s: %s\n' % (PROG, e))
            return EXIT_USAGE
        except KeyboardInterrupt:
            self.stderr.write('%s: interrupted; nothing was moving\n' % PROG)
            return plan_runner.EXIT_INTERRUPTED
        finally:
            self.teardown_logging()


def _where(gateway, server_id):
    """('host2 (ACTIVE)', name) for the summary's "now on" column."""
    server = gateway.get_server(server_id)
    if server is None:
        return 'gone', None
    state = server.status
    if server.task_state:
        state += ', task %s' % server.task_state
    return '%s (%s)' % (server.host, state), server.name


def _quiet_retries(record):
    """Logging filter: no retry warnings without -v.

    The action logs every retried Nova API call at WARNING, for the
    applier's log; on an operator's terminal they are chatter unless
    asked for, and the final error says what failed.
    """
    return not (record.name == nova_gateway.__name__
                and str(record.msg).startswith(RETRY_WARNING))


# How nova_gateway begins the warning of a retried call.
RETRY_WARNING = 'Nova API call '


def observing(action_class):
    """The action class, keeping the server its checks read.

    The check and run tables show the server's name and tell "not
    found" from other skips; the action's own pre-condition read gives
    both, so no request is added. Classes without ``check_movable`` (test
    doubles) are returned as they are.
    """
    if not hasattr(action_class, 'check_movable'):
        return action_class
    cached = _OBSERVING.get(action_class)
    if cached is None:
        class Observing(action_class):
            server_seen = plan_runner.NOT_READ

            def check_movable(self, request, server):
                self.server_seen = server
                return super().check_movable(request, server)

        Observing.__name__ = action_class.__name__
        cached = _OBSERVING.setdefault(action_class, Observing)
    return cached


_OBSERVING = {}


def check_report(verdicts, show_ids=False):
    """The table of check verdicts and a one-line count."""
    rows = []
    for v in verdicts:
        planned = v.plan_action
        rows.append([
            planned.label, v.server(show_ids),
            planned.parameter(parameters.MIGRATION_TYPE) or '?',
            planned.parameter(parameters.SOURCE_NODE) or '?',
            planned.parameter(parameters.DESTINATION_NODE) or '(scheduler)',
            v.verdict, v.reason])
    counts = {}
    for v in verdicts:
        counts[v.verdict] = counts.get(v.verdict, 0) + 1
    # The usual three always, the others when they occur.
    shown = [k for k in plan_runner.VERDICTS
             if counts.get(k) or k in (plan_runner.READY,
                                       plan_runner.WOULD_SKIP,
                                       plan_runner.WOULD_FAIL)]
    summary = '%d action%s: %s' % (
        len(verdicts), '' if len(verdicts) == 1 else 's',
        ', '.join('%d %s' % (counts.get(k, 0), k) for k in shown))
    return '%s\n\n%s' % (
        console.table(['action', 'server', 'type', 'from', 'to', 'verdict',
                       'why'], rows), summary)


def recovery_report(findings, now):
    """The table of journal entries: owner, age, what is (to be) done."""
    rows = []
    for finding in findings:
        entry = finding.entry
        rows.append([
            entry.label, entry.migration_type, entry.source,
            entry.destination or '(scheduler)',
            entry.migration_id if entry.migration_id is not None else '-',
            entry.phase, '%s (%s)' % (entry.owner, finding.owner_state),
            '%.0f s' % finding.age(now),
            finding.done or 'would ' + recovery.intent(finding, now)])
    return console.table(['server', 'type', 'from', 'to', 'migration',
                          'phase', 'owner', 'age', 'done'], rows)


def _find_server(gateway, name_or_id):
    """The server by UUID, else by exact name (all projects)."""
    if _UUID_RE.match(name_or_id):
        server = gateway.get_server(name_or_id)
        if server is not None:
            return server
    try:
        matches = gateway.client.servers.list(search_opts={
            'name': '^%s$' % re.escape(name_or_id), 'all_tenants': True})
    except Exception as e:
        raise CliError('cannot look up server %r: %s'
                       % (name_or_id, plan_runner.reason_of(e)))
    if not matches:
        raise CliError('no server with id or name %r' % name_or_id)
    if len(matches) > 1:
        raise CliError('%d servers are named %r (%s): give the UUID'
                       % (len(matches), name_or_id,
                          ', '.join(m.id for m in matches)))
    server = gateway.get_server(matches[0].id)
    if server is None:
        raise CliError('server %r disappeared' % name_or_id)
    return server


def main(argv=None):
    """Console script entry point."""
    argv = sys.argv[1:] if argv is None else list(argv)
    return Tool().main(argv)


if __name__ == '__main__':
    sys.exit(main())
