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

"""A move of one server, live or cold, from start to a final answer.

``build`` gives the move for a request: a ``live.LiveMove`` or a
``cold.ColdMove``. Each owns its state and every write it sends (the move
itself, abort, force-complete, confirm, revert, resends); it asks
``tracking`` for looks, ``phases`` what they mean and ``waiting`` when to
look again. ``Executed`` is what an action's execute leaves for its
abort, revert and post_condition.
"""

import dataclasses

from watcher_migrate.moves import base
from watcher_migrate.moves import cold
from watcher_migrate.moves import live
from watcher_migrate import tracking
from watcher_migrate import tuning

Outcome = base.Outcome


@dataclasses.dataclass(frozen=True)
class Executed:
    """What execute did: one record for abort, revert and post_condition.

    :param move: the move it started (None: none was needed)
    :param source: the host the server left
    :param succeeded: whether execute answered success
    :param look: the look its answer came from
    :param abort_result: what abort() answers if an abort stopped it
        (True: the server ended on its source), else None
    """

    move: base.Move = None
    source: str = None
    succeeded: bool = False
    look: tracking.Look = None
    abort_result: bool = None


def build(gateway, request, settings, source, cancel=None, action_uuid=None):
    """The move ``request`` asks for, of a server now on ``source``."""
    kind = live.LiveMove if request.live else cold.ColdMove
    return kind(gateway, request, settings, source, cancel=cancel,
                action_uuid=action_uuid)


def timeout_for(settings, request, server):
    """How long the move may take, and the option that says so.

    :returns: (seconds, the option's name, for messages)
    """
    knob = 'live_timeout' if request.live else 'cold_timeout'
    fixed = getattr(settings, knob)
    if fixed:
        return fixed, knob
    sized = int(settings.timeout_per_gib * server.size_gib)
    if sized >= settings.timeout_floor:
        return sized, 'timeout_per_gib'
    return settings.timeout_floor, 'timeout_floor'


def stop_bound(settings):
    """The longest a move can take to stop once asked to.

    A cold move settles and then reverts, each within settle_timeout; a
    request under way may take its whole retry budget first. abort()
    waits no longer than this for execute to finish stopping.
    """
    return (2 * settings.settle_timeout + 2 * settings.api_retry_timeout
            + 2 * (settings.timeout or 0) + settings.poll_interval_max
            + tuning.RESOLVE_WINDOW)
