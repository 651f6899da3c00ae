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

"""The options of [watcher_actions.nova_migrate] as Watcher handles them."""

from oslo_config import cfg
from oslo_config import fixture as config_fixture
import pytest

from watcher_migrate import action
from watcher_migrate import options


@pytest.fixture
def conf():
    """A ConfigOpts treated the way Watcher's plugin loader treats one."""
    fixture = config_fixture.Config(cfg.ConfigOpts())
    fixture.setUp()
    fixture.conf([], default_config_files=[])
    fixture.conf.register_opts(action.Migrate.get_config_opts(),
                               group=options.GROUP)
    yield fixture.conf
    fixture.cleanUp()


def test_reloading_watcher_conf_succeeds_with_no_auth_options_set(conf):
    # Watcher re-reads its config files after registering a plugin's
    # options; a required option left unset makes that reload fail.
    assert conf.reload_config_files() is True


def test_settings_read_an_oslo_config_group(conf):
    conf.set_override('live_timeout', 7, group=options.GROUP)
    settings = options.Settings(conf[options.GROUP])
    assert settings.live_timeout == 7
    assert settings.timeout_action == 'abort'


def test_settings_read_watchers_dict_like_struct():
    settings = options.Settings({'auto_confirm': False})
    assert settings.auto_confirm is False
    assert settings.poll_interval_min == 0.2


def test_settings_fall_back_to_defaults_without_config():
    settings = options.Settings(None)
    assert settings.insecure is False
    assert settings.timeout == options.DEFAULT_REQUEST_TIMEOUT


def test_without_notification_url_the_action_polls_alone():
    assert options.Settings(None).notification_transport_url == ''


def test_notification_transport_url_is_secret():
    # oslo.config masks secret options in its logs of the configuration.
    [opt] = [o for o in options.MIGRATION_OPTS
             if o.dest == 'notification_transport_url']
    assert opt.secret


def test_notification_pool_is_derived_by_default():
    assert options.Settings(None).notification_pool == ''


def test_every_option_has_help_text():
    for opt in options.all_opts():
        assert opt.help, opt.dest


def test_list_opts_names_the_plugins_group():
    [(group, opts)] = options.list_opts()
    assert group == 'watcher_actions.nova_migrate'
    assert {o.dest for o in opts} == {o.dest for o in options.all_opts()}
