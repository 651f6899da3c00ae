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

"""The operator's commands for a running embedded Nova.

``python -m embedded_nova --hosts h1,h2`` starts the cloud
and prints what to paste into another shell; these sub-commands then
drive it from there::

    python -m embedded_nova create-server --host h1 \
        [--name web-1] [--stopped | --paused]
    python -m embedded_nova set-migration SERVER|--all \
        [--lasts SECONDS] [--fail rollback|error] [--never-converge] ...
    python -m embedded_nova servers
    python -m embedded_nova stop

They find the cloud through ``--url`` or the ``OS_AUTH_URL`` the start-up
banner gave. Standard library only: no nova needed on this side.
"""

import argparse
import os
import sys
import urllib.parse

from embedded_nova import client

PROG = 'python -m embedded_nova'
COMMANDS = ('create-server', 'set-migration', 'servers', 'stop')
# The copy's fraction where --never-converge holds a live migration, and
# how long it takes to get there when --lasts is not given.
STALL_AT = 0.9
STALL_DURATION = 10.0
# What the fake driver's live copies report unless told otherwise.
DEFAULT_MEMORY = 1 << 30
# Seconds between two saves of a live copy's figures unless told
# otherwise: libvirt's [libvirt] live_migration_monitor_interval default.
DEFAULT_FIGURES_EVERY = 5.0
# Driver behaviour that makes migrations of the fake driver plain again.
NORMAL = {'live_duration': 0.0, 'cold_duration': 0.0, 'live_fail': None,
          'cold_fail': False, 'live_stall_at': None, 'live_dirty_at': None,
          'confirm_fail': False, 'next_durations': []}
FAILURES = {
    # Nova rolls back: the migration ends 'failed' ('error' for a cold
    # one), the server stays ACTIVE on its source.
    'rollback': {'live_fail': 'rollback', 'cold_fail': 'rollback'},
    # The migration ends 'error' and the server in ERROR.
    'error': {'live_fail': 'raise', 'cold_fail': 'error'},
}


class CommandError(Exception):
    """A command could not do what it was asked; the message says why."""


def banner(info, log_file=None):
    """What the started cloud tells its operator: exports, commands, stop.

    :param info: the cloud's ``/_control/info`` document
    :param log_file: where Nova's log goes, if not to stderr
    """
    auth = info['auth']
    exports = [
        ('OS_AUTH_URL', info['auth_url']),
        ('OS_USERNAME', auth['username']),
        ('OS_PASSWORD', auth['password']),
        ('OS_PROJECT_NAME', auth['project_name']),
        ('OS_USER_DOMAIN_NAME', auth['user_domain_name']),
        ('OS_PROJECT_DOMAIN_NAME', auth['project_domain_name']),
        ('OS_REGION_NAME', info['region_name']),
    ]
    hosts = info['hosts']
    first = hosts[0]
    other = hosts[1] if len(hosts) > 1 else hosts[0]
    lines = [
        'Embedded Nova (real nova, fake virt driver) ready on 127.0.0.1, '
        'compute hosts %s.' % ', '.join(hosts),
        'Compute API %s' % info['compute_url'],
    ]
    if log_file:
        lines.append("Nova's log: %s" % log_file)
    lines += ['', 'In another shell, paste (the identity accepts any '
              'password; this one is the test cloud\'s):', '']
    lines += ['  export %s=%s' % item for item in exports]
    lines += [
        '',
        'or add to clouds.yaml and use "watcher-migrate --os-cloud '
        'embedded":',
        '',
        '  clouds:',
        '    embedded:',
        '      region_name: %s' % info['region_name'],
        '      auth:',
        '        auth_url: %s' % info['auth_url'],
        '        username: %s' % auth['username'],
        '        password: %s' % auth['password'],
        '        project_name: %s' % auth['project_name'],
        '        user_domain_name: %s' % auth['user_domain_name'],
        '        project_domain_name: %s' % auth['project_domain_name'],
        '',
        'Then try (the commands find this cloud through OS_AUTH_URL):',
        '',
        '  %s create-server --host %s --name web-1' % (PROG, first),
        '  %s set-migration web-1 --lasts 30' % PROG,
        '  watcher-migrate migrate web-1 --to %s' % other,
        '  %s set-migration web-1 --fail rollback    # or --never-converge'
        % PROG,
        '  %s servers' % PROG,
        '',
        'Stop it with Ctrl-C here, "%s stop", or kill %s.'
        % (PROG, info['pid']),
    ]
    return '\n'.join(lines)


def base_url(url=None, environ=None):
    """The cloud's ``http://127.0.0.1:PORT`` from --url or OS_AUTH_URL."""
    if url:
        return url.rstrip('/')
    environ = os.environ if environ is None else environ
    auth_url = environ.get('OS_AUTH_URL')
    if not auth_url:
        raise CommandError('no embedded Nova given: set OS_AUTH_URL as the '
                           'start-up banner says, or give --url')
    parts = urllib.parse.urlsplit(auth_url)
    path = parts.path.rstrip('/')
    for suffix in ('/identity/v3', '/identity'):
        if path.endswith(suffix):
            return urllib.parse.urlunsplit(
                (parts.scheme, parts.netloc, path[:-len(suffix)], '', ''))
    raise CommandError('OS_AUTH_URL %s is not an embedded Nova\'s (it ends '
                       'in /identity/v3): give --url' % auth_url)


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError('%r is not a number of seconds '
                                         '>= 0' % text)
    return value


def _mib(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError('%r is not a whole number of MiB '
                                         '>= 1' % text)
    return value


def _parser():
    parser = argparse.ArgumentParser(
        prog=PROG, description='Drive a running embedded Nova (started '
        'with "%s --hosts ...").' % PROG)
    sub = parser.add_subparsers(dest='command', required=True,
                                metavar='COMMAND')

    def command(name, help_text):
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        cmd.add_argument('--url', help='the cloud, http://127.0.0.1:PORT '
                         '(default: from OS_AUTH_URL)')
        return cmd

    create = command('create-server', 'Boot a server on a chosen host.')
    create.add_argument('--host', required=True,
                        help='the compute host to boot it on')
    create.add_argument('--name', help='its name (default: generated)')
    state = create.add_mutually_exclusive_group()
    state.add_argument('--stopped', action='store_true',
                       help='stop it once booted (SHUTOFF: cold only)')
    state.add_argument('--paused', action='store_true',
                       help='pause it once booted')

    behave = command(
        'set-migration',
        'Say how the migrations of a server go, from now on until set '
        'again: how long they last, whether they fail or never converge.')
    which = behave.add_mutually_exclusive_group(required=True)
    which.add_argument('server', nargs='?',
                       help='the server, by name or id')
    which.add_argument('--all', action='store_true',
                       help='every server without settings of its own')
    behave.add_argument('--lasts', type=_seconds, metavar='SECONDS',
                        help='seconds a live copy (a cold move) takes')
    behave.add_argument('--fail', choices=sorted(FAILURES),
                        help='rollback: Nova gives up, the server stays '
                        'ACTIVE on its source; error: the server ends in '
                        'ERROR')
    behave.add_argument('--never-converge', action='store_true',
                        help='a live copy stops at %d%%%% and runs until '
                        'it is aborted or force-completed'
                        % (STALL_AT * 100))
    behave.add_argument('--confirm-fails', action='store_true',
                        help="a cold migration's confirm fails")
    behave.add_argument('--memory-mib', type=_mib, metavar='MIB',
                        help='the memory a live copy reports (default '
                        '1024)')
    behave.add_argument('--figures-every', type=_seconds,
                        metavar='SECONDS',
                        help="seconds between two saves of a live copy's "
                        "figures, as Nova's libvirt driver saves them "
                        'every [libvirt] live_migration_monitor_interval '
                        '(default %g); 0: none, as Nova\'s other drivers'
                        % DEFAULT_FIGURES_EVERY)
    behave.add_argument('--normal', action='store_true',
                        help='back to quick migrations that succeed')

    command('servers', 'List the servers: name, id, host, status, task.')
    command('stop', 'Stop the embedded Nova.')
    return parser


def behaviour_of(args):
    """The fake driver's fields for ``set-migration``'s options."""
    fields = {}
    if args.normal:
        if args.fail or args.never_converge or args.confirm_fails:
            raise CommandError('--normal cannot go with --fail, '
                               '--never-converge or --confirm-fails')
        fields.update(NORMAL)
    if args.lasts is not None:
        fields['live_duration'] = fields['cold_duration'] = args.lasts
    if args.fail:
        fields.update(FAILURES[args.fail])
    if args.never_converge:
        if args.fail:
            raise CommandError('--never-converge cannot go with --fail: '
                               'a copy that never ends never fails either')
        fields['live_stall_at'] = STALL_AT
        fields.setdefault('live_duration', STALL_DURATION)
    if args.confirm_fails:
        fields['confirm_fail'] = True
    if args.memory_mib is not None:
        fields['memory_bytes'] = args.memory_mib << 20
    if args.figures_every is not None:
        fields['live_migration_monitor_interval'] = args.figures_every
    if not fields:
        raise CommandError('set-migration: give at least one of --lasts, '
                           '--fail, --never-converge, --confirm-fails, '
                           '--memory-mib, --figures-every, --normal')
    return fields


def describe_behaviour(fields):
    """A sentence on what migrations with these driver fields do."""
    parts = []
    if fields.get('live_stall_at') is not None:
        parts.append('a live copy stops at %d%% and runs until aborted or '
                     'force-completed' % (fields['live_stall_at'] * 100))
    if fields.get('live_duration'):
        parts.append('a live copy takes %g s' % fields['live_duration'])
    if fields.get('cold_duration'):
        parts.append('a cold move takes %g s' % fields['cold_duration'])
    if fields.get('live_fail') == 'rollback':
        parts.append('it fails and Nova rolls it back (the server stays on '
                     'its source)')
    elif fields.get('live_fail') == 'raise':
        parts.append('it fails and leaves the server in ERROR')
    if fields.get('confirm_fail'):
        parts.append("a cold migration's confirm fails")
    if fields.get('memory_bytes', DEFAULT_MEMORY) != DEFAULT_MEMORY:
        parts.append('a live copy reports %d MiB'
                     % (fields['memory_bytes'] >> 20))
    every = fields.get('live_migration_monitor_interval',
                       DEFAULT_FIGURES_EVERY)
    if every == 0:
        parts.append('a live copy saves no figures')
    elif every != DEFAULT_FIGURES_EVERY:
        parts.append('a live copy saves its figures every %g s' % every)
    return '; '.join(parts) or 'migrations are quick and succeed'


def run(argv, out=sys.stdout):
    """Run one command; returns its exit code (CommandError: 1)."""
    args = _parser().parse_args(argv)
    cloud = client.EmbeddedNova.attach(base_url(args.url))
    if args.command == 'create-server':
        if args.host not in cloud.hosts:
            raise CommandError('--host %s: not a host of this cloud (%s)'
                               % (args.host, ', '.join(cloud.hosts)))
        uuid = cloud.create_server(args.host, name=args.name,
                                   stopped=args.stopped, paused=args.paused)
        server = cloud.server(uuid)
        out.write('%s %s on %s, %s\n' % (server['name'], uuid,
                                         server['OS-EXT-SRV-ATTR:host'],
                                         server['status']))
    elif args.command == 'set-migration':
        fields = behaviour_of(args)
        uuid = None if args.all else cloud.find_server(args.server)
        settings = cloud.set_driver(instance=uuid, **fields)
        effective = dict(settings['default'])
        if uuid is not None:
            effective.update(settings['instances'].get(uuid, {}))
        out.write('%s: %s.\n' % (
            'every server without settings of its own' if uuid is None
            else '%s (%s)' % (args.server, uuid),
            describe_behaviour(effective)))
    elif args.command == 'servers':
        rows = [(s['name'], s['id'], s.get('OS-EXT-SRV-ATTR:host') or '-',
                 s['status'], s.get('OS-EXT-STS:task_state') or '-')
                for s in cloud.servers()]
        widths = [max([len(h)] + [len(r[i]) for r in rows])
                  for i, h in enumerate(('name', 'id', 'host', 'status'))]
        for row in [('name', 'id', 'host', 'status', 'task')] + rows:
            out.write('  '.join(c.ljust(widths[i]) if i < 4 else c
                                for i, c in enumerate(row)) + '\n')
    elif args.command == 'stop':
        cloud.shutdown()
        out.write('embedded Nova (pid %s) is stopping\n' % cloud.pid)
    return 0


def main(argv):
    try:
        return run(argv)
    except (CommandError, client.EmbeddedNovaError) as exc:
        sys.stderr.write('%s: error: %s\n' % (PROG, exc))
        return 1
