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


"""Knowing when threads have asked a SharedRead, without sleeping."""

import threading
import time


class AskCounter(object):
    """Counts a SharedRead's clock readings: one per ask, one per request."""

    def __init__(self, shared):
        self._clock = shared.clock
        self._lock = threading.Lock()
        self.count = 0
        shared.clock = self

    def __call__(self):
        with self._lock:
            self.count += 1
        return self._clock()

    def reach(self, count, timeout=5.0):
        deadline = time.monotonic() + timeout
        while self.count < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True
