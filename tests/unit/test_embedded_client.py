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

"""The embedded Nova's helper client, without the Nova."""

import socket

import pytest

from watcher_migrate.embedded_nova import client


def test_a_call_without_answer_names_the_request_it_waited_for():
    # Accepts the connection (backlog), never answers.
    with socket.socket() as silent:
        silent.bind(('127.0.0.1', 0))
        silent.listen(1)
        url = 'http://127.0.0.1:%d/compute/v2.1/servers/abc' % (
            silent.getsockname()[1])

        with pytest.raises(client.NoAnswer) as caught:
            client.EmbeddedNova._http('GET', url, timeout=0.2)

    assert str(caught.value) == 'GET %s: no answer within 0.2 s' % url
