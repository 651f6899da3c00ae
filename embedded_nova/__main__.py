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

"""``python -m embedded_nova [--hosts h1,h2 | COMMAND]``.

Without a command, starts the cloud (server.py); with one of
``commands.COMMANDS``, drives a running one (commands.py).
"""

import sys

from embedded_nova import commands

if __name__ == '__main__':
    if sys.argv[1:2] and sys.argv[1] in commands.COMMANDS:
        sys.exit(commands.main(sys.argv[1:]))
    # Imported here: the commands need no nova.
    from embedded_nova import server
    server.main()
