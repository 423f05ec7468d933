"""Which core is active in this process, who set it up, and what its test
threads were stuck on when its clock closed.

One `ClockFixture`, or one `DeadlockFixture` without a clock, is active at
a time; its core (`nova_fixtures._bubble.Bubble`) is the one time,
locks and threads started by test threads follow. Only this module
changes that state; the rest read it through these functions.
"""

from __future__ import annotations

import sys
import traceback
import unittest
from typing import Any, Callable

from nova_fixtures import _bubble
from nova_fixtures import _core

__all__ = ['activate', 'active_bubble', 'deactivate', 'member',
           'on_clock_setup', 'opened_by', 'record_stuck', 'set_up_by',
           'stuck_at_close']

_current: _bubble.Bubble | None = None
# NOTE(registry): who set up the active clock and from where (set_up_by),
# for the error a second clock gets while it is active.
_opened_by = ''
# NOTE(registry): test threads the last clock saw blocked for good when it
# closed (an untimed wait only test threads could end): ident -> what they
# waited for. ThreadLeakFixture reports them at once, without a grace.
_stuck: dict[int, str] = {}
_clock_setup_hooks: list[Callable[[Any], None]] = []


def active_bubble() -> _bubble.Bubble | None:
    """The core of the active `ClockFixture`, or of a `DeadlockFixture`
    set up without one; None when neither is set up."""
    return _current


def member() -> _bubble.Bubble | None:
    """The active core if the calling thread is one of its members."""
    bubble = _current
    if bubble is not None and bubble.is_member(_core.get_ident()):
        return bubble
    return None


def activate(bubble: _bubble.Bubble, by: str) -> None:
    """Make ``bubble`` the active core, set up as ``by`` says."""
    global _current, _opened_by
    _current = bubble
    _opened_by = by


def deactivate(bubble: _bubble.Bubble) -> None:
    """``bubble`` is no longer active (if it still was)."""
    global _current
    if _current is bubble:
        _current = None


def opened_by() -> str:
    """How `set_up_by` described the set-up of the active core."""
    return _opened_by


def record_stuck(stuck: dict[int, str]) -> None:
    """What the clock closing now saw its test threads stuck on."""
    _stuck.clear()
    _stuck.update(stuck)


def stuck_at_close() -> dict[int, str]:
    """ident -> what it waited for, for the threads the last clock saw
    blocked for good when it closed."""
    return dict(_stuck)


def forget_stuck() -> None:
    """Forget the last clock's stuck threads (their idents may be reused).
    """
    _stuck.clear()


def on_clock_setup(hook: Callable[[Any], None]) -> None:
    """Call ``hook(clock)`` at the end of every `ClockFixture` set-up
    (the schedule module attaches a requested schedule so)."""
    _clock_setup_hooks.append(hook)


def clock_set_up(clock: Any) -> None:
    """Run the hooks of `on_clock_setup` for ``clock``."""
    for hook in _clock_setup_hooks:
        hook(clock)


def set_up_by() -> str:
    """Which test is setting a fixture up and from where, for errors.

    The test is the first `unittest.TestCase` found as ``self`` in the
    calling frames (its ``id()``); the stack is the last frames outside
    runner and library code, or the raw last frames when that leaves none.

    :returns: ``by <test id> at:``, or ``at:`` when no test is among the
        callers, then a line per frame, innermost last.
    """
    caller = sys._getframe(1)
    lines = _bubble.trimmed_stack(caller)
    if not lines:
        lines = [line.rstrip('\n')
                 for line in traceback.format_stack(caller)[-8:]]
    where = '\n'.join(lines)
    frame: Any = caller
    while frame is not None:
        code = frame.f_code
        # NOTE(registry): only methods' frames have their locals read.
        if code.co_argcount and code.co_varnames[0] == 'self':
            test = frame.f_locals.get('self')
            if isinstance(test, unittest.TestCase):
                return f'by {test.id()} at:\n{where}'
        frame = frame.f_back
    return f'at:\n{where}'
