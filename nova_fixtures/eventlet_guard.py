"""NoEventletFixture: fail a test that monkey-patches or spawns greenthreads.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

import fixtures

from fake_transport import backend
from nova_fixtures import _native

__all__ = ['EventletUsed', 'NoEventletFixture']


class EventletUsed(AssertionError):
    """eventlet monkey-patched the interpreter or ran a greenthread."""


class NoEventletFixture(fixtures.Fixture):
    """Fail if eventlet is monkey-patched, or a greenthread is spawned.

    Importing eventlet is not the rule: futurist imports it whenever it is
    installed, and oslo.service depends on it. What fails is
    ``eventlet.monkey_patch()`` (before or during the test) and any use of
    an eventlet hub (every spawn, sleep or green pool goes through
    ``eventlet.hubs.get_hub``), reported with the stack that did it; and
    oslo.service's eventlet backend, which is what one gets by importing
    oslo_messaging before nova_fixtures.

    Caution: wraps ``eventlet.hubs.get_hub`` process-wide while active, when
    eventlet is imported.
    """

    def _setUp(self) -> None:
        if backend.eventlet_backend_selected():
            raise EventletUsed(backend.EVENTLET_BACKEND_MESSAGE)
        patched = _native.patched_modules()
        if patched:
            raise EventletUsed(
                f'eventlet has monkey-patched this interpreter '
                f'({", ".join(patched)}); nova_fixtures runs on native '
                f'threads only')
        self._hub_uses: list[str] = []
        self.addCleanup(self._check)
        hubs = sys.modules.get('eventlet.hubs')
        if hubs is not None:
            original = hubs.get_hub
            uses = self._hub_uses

            def get_hub(*args: Any, **kwargs: Any) -> Any:
                if not uses:
                    uses.append(''.join(traceback.format_stack()[-8:-1]))
                return original(*args, **kwargs)

            self.useFixture(fixtures.MonkeyPatch('eventlet.hubs.get_hub',
                                                 get_hub))

    def _check(self) -> None:
        patched = _native.patched_modules()
        if patched:
            raise EventletUsed(
                f'the test monkey-patched eventlet '
                f'({", ".join(patched)}); nova_fixtures runs on native '
                f'threads only')
        if self._hub_uses:
            raise EventletUsed(
                f'the test used an eventlet hub (a greenthread spawn, sleep '
                f'or pool), first at:\n{self._hub_uses[0]}')
