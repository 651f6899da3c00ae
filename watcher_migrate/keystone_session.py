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

"""The keystoneauth1 session the Nova client runs on.

Inside the applier Watcher hands every action the same ``OpenStackClients``
whose ``session`` is built from ``[watcher_clients_auth]``: using it means
one token for all actions, renewed by keystoneauth1 when it expires. Without
Watcher (command-line tool, tests) the session is loaded from this plugin's
own options with keystoneauth1's loaders; TLS verification stays on unless
``insecure`` is set.
"""

from keystoneauth1 import loading as ks_loading


def session_for(osc, settings):
    """Watcher's session if ``osc`` is given, else one from ``settings``."""
    if osc is not None:
        return osc.session
    return load_session(settings.as_dict())


def load_session(values):
    """A session from a mapping of keystoneauth1 option values.

    :param values: option name -> value (auth_type, auth_url, username,
        password, ..., cafile, certfile, keyfile, insecure, timeout)
    """
    loader = ks_loading.get_plugin_loader(values.get('auth_type')
                                          or 'password')
    plugin_options = {}
    for option in loader.get_options():
        value = values.get(option.dest)
        if value is not None:
            plugin_options[option.dest] = value
    auth = loader.load_from_options(**plugin_options)
    return ks_loading.session.Session().load_from_options(
        auth=auth,
        insecure=bool(values.get('insecure')),
        cacert=values.get('cafile'),
        cert=values.get('certfile'),
        key=values.get('keyfile'),
        timeout=values.get('timeout'))
