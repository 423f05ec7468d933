"""Refuse to load in an interpreter that eventlet has monkey-patched.

The library swaps and wraps the real threading primitives and clocks; over
eventlet's green ones it would fail somewhere deep and unrelated (a green
lock does not reject a NaN timeout). Some test packages still call
``eventlet.monkey_patch()`` in their ``__init__``: they get this module's
`EventletPatched` at import instead, naming what was patched.
"""

from __future__ import annotations

import sys

__all__ = ['EventletPatched', 'check']


class EventletPatched(ImportError):
    """nova_fixtures was imported after ``eventlet.monkey_patch()``."""


def patched_modules() -> list[str]:
    """What ``eventlet.monkey_patch()`` has patched in this process."""
    patcher = sys.modules.get('eventlet.patcher')
    if patcher is None:
        return []
    return sorted(getattr(patcher, 'already_patched', {}))


def check() -> None:
    """Raise `EventletPatched` if eventlet has patched this interpreter."""
    patched = patched_modules()
    if patched:
        raise EventletPatched(
            f'nova_fixtures runs on native threads only, and '
            f'eventlet.monkey_patch() has patched this interpreter '
            f'({", ".join(patched)}) before nova_fixtures was imported. '
            f'Remove the monkey_patch() call from the code the tests '
            f'import first (often the tests package\'s __init__.py), or '
            f'run these tests without nova_fixtures.')


check()
