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

"""Exceptions that carry the reason into the action plan.

Watcher's workflow engine writes ``str(e)`` into the action's
status_message only for subclasses of ``WatcherException`` (any other
exception becomes just its class name), and it turns ``ActionSkipped``
raised by ``pre_condition`` into the SKIPPED state. So when Watcher is
importable, our exceptions ARE Watcher's classes (subclasses of them); when
it is not, local classes with the same names and meaning stand in.
"""

try:
    from watcher.common import exception as _watcher_exception
except ImportError:  # Watcher is not installed: tests, the CLI.
    _watcher_exception = None


if _watcher_exception is not None:
    _Base = _watcher_exception.WatcherException
    _ExecutionFailure = _watcher_exception.ActionExecutionFailure
else:
    class _Base(Exception):
        """Stand-in for ``watcher.common.exception.WatcherException``."""

        def __str__(self):
            return self.args[0] if self.args else self.__class__.__name__

    class _ExecutionFailure(_Base):
        """Stand-in for ``watcher.common.exception.ActionExecutionFailure``."""

# Watcher 15.0 added ActionSkipped (and the SKIPPED state); 13.x and 14.x
# have neither, and their engine fails an action whose pre_condition raises.
_Skipped = getattr(_watcher_exception, 'ActionSkipped', None)
#: Whether whoever runs the action turns ActionSkipped into a skip: the
#: applier of Watcher 15.0+, or this plugin's CLI (no Watcher).
SKIPS_UNDERSTOOD = _watcher_exception is None or _Skipped is not None
if _Skipped is None:
    class _Skipped(_Base):
        """Stand-in for ``watcher.common.exception.ActionSkipped``."""


class MigrateError(_Base):
    """Base of every error this plugin raises; ``str()`` is the reason."""

    def __init__(self, message):
        # Watcher's base formats msg_fmt when no message is given; we always
        # give one, so its formatting (and its logging on mismatch) is moot.
        super().__init__(message)


class ActionSkipped(MigrateError, _Skipped):
    """Nothing to do: the applier marks the action SKIPPED, not FAILED."""


class ActionFailed(MigrateError, _ExecutionFailure):
    """The action could not do what it was asked; the message says why."""


class InvalidParameters(ActionFailed):
    """The input parameters are invalid; nothing was sent to Nova."""


class NovaTooOld(ActionFailed):
    """The Nova API does not offer the minimum microversion (2.56)."""


class NovaUnavailable(ActionFailed):
    """The Nova API kept failing past the retry budget."""
