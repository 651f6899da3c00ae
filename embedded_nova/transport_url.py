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

"""Transport URLs as they may appear in a log: without their password.

Standard library only: the client (no nova) and the Nova process both
log the URL the embedded Nova publishes its notifications to.
"""

import urllib.parse

MASK = '***'


def masked(url):
    """``url`` with the password of every host replaced by ``***``.

    oslo.messaging URLs may list several hosts
    (``rabbit://u:p@h1:5672,u:p@h2:5672/``), each with its own
    credentials; anything that does not parse is masked whole.
    """
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return MASK
    hosts = []
    for host in parts.netloc.split(','):
        credentials, at, address = host.rpartition('@')
        if at and ':' in credentials:
            credentials = credentials.split(':', 1)[0] + ':' + MASK
        hosts.append(credentials + at + address)
    return urllib.parse.urlunsplit(parts._replace(netloc=','.join(hosts)))
