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

"""Transport URLs are logged without their passwords."""

from embedded_nova import transport_url


def test_the_password_is_masked():
    assert (transport_url.masked('rabbit://guest:s3cret@127.0.0.1:5672/')
            == 'rabbit://guest:***@127.0.0.1:5672/')


def test_every_host_password_is_masked_and_the_rest_kept():
    url = 'rabbit://a:p@w@10.0.0.1:5672,b:q@10.0.0.2:5672/vhost?ssl=1'

    assert transport_url.masked(url) == (
        'rabbit://a:***@10.0.0.1:5672,b:***@10.0.0.2:5672/vhost?ssl=1')


def test_a_url_without_password_is_unchanged():
    assert (transport_url.masked('rabbit://127.0.0.1:5672/')
            == 'rabbit://127.0.0.1:5672/')


def test_a_url_that_does_not_parse_is_masked_whole():
    assert transport_url.masked('rabbit://[::1') == transport_url.MASK
