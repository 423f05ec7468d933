"""Hang reports: what every thread, lock, bus and clock was doing."""

from __future__ import annotations

import linecache
import threading
import traceback
import types
from typing import Any, Iterable

from nova_fixtures import _paths
from nova_fixtures import _stacks
from nova_fixtures import clock

__all__ = ['hang_report']

# NOTE(hang): the test runner's own frames (stestr, unittest, testtools,
# pytest, fixtures) say nothing about the hang.
_RUNNER = ('/testtools/', '/unittest/', '/fixtures/', '/stestr/',
           '/subunit/', '/_pytest/', '/pluggy/')


def _runner(filename: str) -> bool:
    return any(part in filename for part in _RUNNER)


def hang_report(buses: Iterable[Any] = (),
                interrupted: types.TracebackType | None = None) -> str:
    """Return a report of every thread, the locks, the buses, the clock.

    :param buses: `TransportFixture` objects whose in-flight and waiting
        messages to list.
    :param interrupted: the traceback of the exception that interrupted
        the calling thread (``OS_TEST_TIMEOUT``'s): its stack is shown as
        where that thread was blocked, not the report's own frames.
    """
    # NOTE(hang): other threads' stacks from faulthandler, which makes no
    # frame objects (walking them crashed CPython 3.12 at exit).
    stacks = _stacks.all_stacks()
    me = threading.get_ident()
    lines = ['Threads:']
    for thread in sorted(threading.enumerate(), key=lambda t: t.name):
        daemon = ' (daemon)' if thread.daemon else ''
        if thread.ident == me and interrupted is not None:
            lines.append(f'  "{thread.name}"{daemon}, interrupted in:')
            stack = [(_paths.short(e.filename), e.lineno or 0, e.name, e.line)
                     for e in traceback.extract_tb(interrupted)
                     if not _runner(e.filename)]
            entries = traceback.StackSummary.from_list(stack).format()
        else:
            lines.append(f'  "{thread.name}"{daemon}:')
            kept = [(_paths.short(name), line, function,
                     linecache.getline(name, line).strip())
                    for name, line, function in
                    reversed(stacks.get(thread.ident or -1, []))
                    if not _runner(name)]
            entries = traceback.StackSummary.from_list(kept).format()
        lines.extend('    ' + line.rstrip().replace('\n', '\n    ')
                     for line in entries[-10:])
    bubble = clock.active_bubble()
    if bubble is not None:
        with bubble.mutex:
            if bubble.virtual:
                headline = (f'Test threads (virtual time {bubble.now:g} s '
                            f'after {bubble.jumps} jump(s), '
                            f'{len(bubble.timers)} timer(s))')
            else:
                headline = 'Test threads (real time)'
            lines.append(bubble.describe(headline))
    for bus in buses:
        broker = getattr(bus, 'broker', None)
        if broker is None:
            continue
        lines.append(f'Bus {bus.url}:')
        for title, entries in (('in flight', broker.in_flight()),
                               ('waiting in queues', broker.unconsumed())):
            lines.append(f'  {title}: {len(entries)}')
            lines.extend(f'    {entry}' for entry in entries)
    return '\n'.join(lines)
