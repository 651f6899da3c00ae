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

"""The embedded cloud's operator commands, without the cloud."""

import pytest

from embedded_nova import commands
from embedded_nova import driver_behaviour

INFO = {'auth_url': 'http://127.0.0.1:4242/identity/v3',
        'compute_url': 'http://127.0.0.1:4242/compute/v2.1',
        'hosts': ['host1', 'host2'], 'pid': 77, 'region_name': 'RegionOne',
        'auth': {'username': 'admin', 'password': 'secret',
                 'project_name': 'admin', 'user_domain_name': 'Default',
                 'project_domain_name': 'Default'}}


def set_migration(*argv):
    return commands.behaviour_of(
        commands._parser().parse_args(['set-migration'] + list(argv)))


def test_the_banner_exports_the_clouds_own_credentials():
    text = commands.banner(INFO)
    assert '  export OS_AUTH_URL=http://127.0.0.1:4242/identity/v3\n' in text
    assert '  export OS_REGION_NAME=RegionOne\n' in text


def test_the_banner_gives_a_clouds_yaml_entry():
    assert '    embedded:\n      region_name: RegionOne\n      auth:\n' \
        '        auth_url: http://127.0.0.1:4242/identity/v3\n' in \
        commands.banner(INFO)


def test_the_banner_names_the_log_file_when_there_is_one():
    assert "Nova's log: /tmp/n.log" in commands.banner(INFO, '/tmp/n.log')


def test_the_cloud_is_found_from_the_pasted_auth_url():
    assert commands.base_url(environ={
        'OS_AUTH_URL': 'http://127.0.0.1:4242/identity/v3/'}) == \
        'http://127.0.0.1:4242'


def test_url_wins_over_the_environment():
    assert commands.base_url('http://127.0.0.1:9/', environ={
        'OS_AUTH_URL': 'http://127.0.0.1:4242/identity/v3'}) == \
        'http://127.0.0.1:9'


def test_without_auth_url_the_error_says_what_to_set():
    with pytest.raises(commands.CommandError, match='set OS_AUTH_URL'):
        commands.base_url(environ={})


def test_a_foreign_auth_url_is_refused_by_name():
    with pytest.raises(commands.CommandError,
                       match='OS_AUTH_URL https://keystone:5000/v3 is not'):
        commands.base_url(environ={
            'OS_AUTH_URL': 'https://keystone:5000/v3'})


def test_lasts_sets_live_and_cold_durations():
    assert set_migration('web-1', '--lasts', '30') == {
        'live_duration': 30.0, 'cold_duration': 30.0}


def test_fail_rollback_rolls_back_live_and_cold_moves():
    assert set_migration('web-1', '--fail', 'rollback') == {
        'live_fail': 'rollback', 'cold_fail': 'rollback'}


def test_never_converge_stalls_the_copy_after_a_default_time():
    assert set_migration('web-1', '--never-converge') == {
        'live_stall_at': commands.STALL_AT,
        'live_duration': commands.STALL_DURATION}


def test_never_converge_and_fail_contradict_each_other():
    with pytest.raises(commands.CommandError, match='--never-converge'):
        set_migration('web-1', '--never-converge', '--fail', 'error')


def test_set_migration_without_a_behaviour_says_which_to_give():
    with pytest.raises(commands.CommandError, match='at least one of'):
        set_migration('web-1')


def test_a_negative_duration_is_refused_naming_lasts(capsys):
    with pytest.raises(SystemExit) as caught:
        set_migration('web-1', '--lasts', '-1')
    assert caught.value.code == 2
    assert "argument --lasts: '-1' is not a number of seconds" in \
        capsys.readouterr().err


def test_set_migration_needs_a_server_or_all(capsys):
    with pytest.raises(SystemExit):
        set_migration('--lasts', '3')
    assert 'one of the arguments server --all is required' in \
        capsys.readouterr().err


def test_normal_settings_read_as_quick_and_successful():
    assert commands.describe_behaviour(commands.NORMAL) == \
        'migrations are quick and succeed'


def test_figures_every_sets_the_drivers_monitor_interval():
    assert set_migration('web-1', '--figures-every', '0') == {
        'live_migration_monitor_interval': 0.0}


def test_a_negative_figures_interval_is_refused_naming_the_option(capsys):
    with pytest.raises(SystemExit):
        set_migration('web-1', '--figures-every', '-5')
    assert "argument --figures-every: '-5' is not a number of seconds" in \
        capsys.readouterr().err


def test_the_figures_default_said_is_the_drivers():
    assert commands.DEFAULT_FIGURES_EVERY == \
        driver_behaviour.DEFAULT_BEHAVIOUR[
            'live_migration_monitor_interval'] == 5.0


@pytest.mark.parametrize('every,text', [
    (0, 'a live copy saves no figures'),
    (1, 'a live copy saves its figures every 1 s'),
    (5.0, 'migrations are quick and succeed'),
])
def test_the_figures_cadence_is_said_unless_it_is_the_default(every, text):
    assert commands.describe_behaviour(
        dict(commands.NORMAL, live_migration_monitor_interval=every)) == text
