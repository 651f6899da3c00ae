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

"""Without RabbitMQ, the tests that need a broker skip, or fail in CI."""

import pytest

from tests import broker


@pytest.fixture
def no_rabbitmq(monkeypatch, tmp_path):
    monkeypatch.setattr(broker, 'BIN_DIR', str(tmp_path))


def test_a_ci_run_without_rabbitmq_fails(no_rabbitmq, monkeypatch):
    monkeypatch.setenv('CI', 'true')

    with pytest.raises(pytest.fail.Exception) as caught:
        broker.require_server()

    assert 'apt-get' in str(caught.value)


def test_a_local_run_without_rabbitmq_skips_saying_why(no_rabbitmq,
                                                       monkeypatch):
    monkeypatch.delenv('CI', raising=False)

    with pytest.raises(pytest.skip.Exception) as caught:
        broker.require_server()

    assert 'RabbitMQ is not installed' in str(caught.value)
