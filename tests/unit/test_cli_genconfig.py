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

"""The sample configuration (tox -e genconfig) and the packaging entries
the command-line tool and the generator rely on."""

import configparser
import os
import re
from unittest import mock

from oslo_config import cfg
from oslo_config import generator
import pytest

from watcher_migrate import options

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
GENERATOR_CONF = os.path.join(TOP, 'etc', 'oslo-config-generator',
                              'watcher-migrate.conf')
NAMESPACE = 'watcher_migrate'


def entry_points():
    parser = configparser.ConfigParser()
    parser.read(os.path.join(TOP, 'setup.cfg'))
    section = parser['entry_points']
    return {group: dict(line.split(' = ', 1)
                        for line in section[group].strip().splitlines())
            for group in section}


def _only_our_namespace(namespaces):
    # What stevedore finds once the package is installed (setup.cfg's
    # oslo.config.opts entry, checked below), without needing it installed.
    assert namespaces == [NAMESPACE]
    return [(NAMESPACE, options.list_opts)]


@pytest.fixture(scope='module')
def sample(tmp_path_factory):
    """Our group of the sample, generated from the generator's conf."""
    output = str(tmp_path_factory.mktemp('genconfig') / 'sample.conf')
    conf = cfg.ConfigOpts()
    generator.register_cli_opts(conf)
    conf(['--config-file', GENERATOR_CONF, '--output-file', output])
    with mock.patch.object(generator, '_get_raw_opts_loaders',
                           side_effect=_only_our_namespace):
        generator.generate(conf)
    with open(output) as handle:
        text = handle.read()
    header = '[%s]\n' % options.GROUP
    assert header in text
    return text.split(header, 1)[1].split('\n[', 1)[0]


def _blocks(section):
    """{option name: its comment text, whitespace-normalised}."""
    blocks = {}
    for block in section.split('\n\n'):
        lines = block.strip().splitlines()
        if not lines:
            continue
        # An empty default is written '#name =', nothing after.
        match = re.match(r'^#?(\w+) =( |$)', lines[-1])
        if match:
            comment = ''
            for line in lines[:-1]:
                # The generator wraps after hyphens too ("force-\n#
                # complete").
                text = line.lstrip('#').strip()
                comment += text if comment.endswith('-') else ' ' + text
            blocks[match.group(1)] = ' '.join(comment.split())
    return blocks


@pytest.mark.parametrize('opt', options.all_opts(), ids=lambda o: o.dest)
def test_sample_lists_every_option_with_its_help(sample, opt):
    blocks = _blocks(sample)
    assert opt.dest in blocks
    assert ' '.join(opt.help.split()) in blocks[opt.dest]


def test_every_choice_of_an_option_has_a_description(sample):
    assert '<No description provided>' not in sample


def test_interface_choices_are_described_in_the_sample(sample):
    [opt] = [o for o in options.MIGRATION_OPTS if o.dest == 'interface']
    described = ['%s - %s' % choice for choice in opt.type.choices.items()]
    assert [d in _blocks(sample)['interface'] for d in described] == [
        True, True, True]


KEYSTONEAUTH = [o for o in options.all_opts()
                if o not in options.MIGRATION_OPTS]


@pytest.mark.parametrize('opt', KEYSTONEAUTH, ids=lambda o: o.dest)
def test_keystoneauth_options_say_they_apply_only_without_clients(sample,
                                                                  opt):
    assert options.ONLY_WITHOUT_CLIENTS in _blocks(sample)[opt.dest]


def test_plugin_options_do_not_say_they_apply_only_without_clients(sample):
    blocks = _blocks(sample)
    assert [o.dest for o in options.MIGRATION_OPTS
            if options.ONLY_WITHOUT_CLIENTS in blocks[o.dest]] == []


def test_genconfig_prints_where_the_sample_was_written():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(os.path.join(TOP, 'tox.ini'))
    commands = parser['testenv:genconfig']['commands']
    assert 'etc/watcher-migrate.conf.sample' in commands.splitlines()[-1]
    assert 'print(' in commands.splitlines()[-1]


def test_tox_writes_no_venv_redirect_into_the_work_tree():
    # tox 4.6x writes a PEP 832 ".venv" file pointing at the last
    # environment it ran, unless told not to.
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(os.path.join(TOP, 'tox.ini'))
    assert parser['tox']['venv_redirect'] == 'false'


def test_venv_redirect_file_is_gitignored():
    with open(os.path.join(TOP, '.gitignore')) as handle:
        assert '.venv' in handle.read().split()


def test_generator_conf_writes_the_gitignored_sample():
    parser = configparser.ConfigParser()
    parser.read(GENERATOR_CONF)
    assert parser['DEFAULT']['output_file'] == \
        'etc/watcher-migrate.conf.sample'


def test_namespace_is_registered_for_the_generator():
    assert entry_points()['oslo.config.opts'][NAMESPACE] == \
        'watcher_migrate.options:list_opts'


def test_console_script_is_registered():
    assert entry_points()['console_scripts']['watcher-migrate'] == \
        'watcher_migrate.cli:main'
