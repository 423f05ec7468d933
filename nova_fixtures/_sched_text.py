"""The words of schedule mode: what a decision, a divergence, a cause and
a run's summary read like.

The scheduler (`nova_fixtures._sched`) and the trace
(`nova_fixtures._trace`) keep numbers and sites; this module turns them
into the lines a person reads: thread names for numbers, and a lock's site
into the name its creating line gives it.
"""

from __future__ import annotations

import linecache
import os
import re
from typing import Any, Mapping

from nova_fixtures import _trace

__all__ = ['already_running', 'describe', 'divergence', 'entry_text',
           'interrupted', 'outsider_woke', 'over_cap', 'readable',
           'real_io', 'stalled', 'summary', 'unhashed']

Names = Mapping[int, str]

# NOTE(sched_text): how a step's kind reads in a shrunk schedule's
# report: what the thread was about to do when the decision was taken.
VERBS = {'acquire': 'took', 'release': 'released', 'start': 'started',
         'exit': 'exited', 'wake': 'woke from', 'enter': 'began',
         'block': 'blocked on'}
_readable_cache: dict[str, str] = {}
# NOTE(sched_text): ``self._lock = threading.Lock()``: the name assigned.
_ASSIGNED = re.compile(r'\s*([\w.]+)\s*=[^=]')


def readable(what: str) -> str:
    """``lock self.instance (gallery/services.py:22)`` for a step's
    ``what`` naming a lock's creation site ``/path/file.py:22``: the name
    the creating line assigns it to, and the path from the working
    directory. Else ``what`` unchanged."""
    known = _readable_cache.get(what)
    if known is not None:
        return known
    prefix, _, site = what.rpartition(' ')
    path, _, line = site.rpartition(':')
    text = what
    if path and line.isdigit():
        assigned = _ASSIGNED.match(linecache.getline(path, int(line)))
        short = os.path.relpath(path)
        if short.startswith('..'):
            short = path
        name = f'{assigned.group(1)} ' if assigned else ''
        text = f'{prefix + " " if prefix else ""}{name}({short}:{line})'
    _readable_cache[what] = text
    return text


def _name(names: Names, tid: int | None) -> str:
    if tid is None:
        return 'nobody'
    return f'"{names.get(tid, f"thread #{tid}")}"'


def entry_text(entry: _trace.Entry, names: Names) -> str:
    """``"A" at acquire <site> -> "B"``: a step of a trace."""
    tid, kind, what, chosen = entry
    return f'{_name(names, tid)} at {kind} {what} -> {_name(names, chosen)}'


def describe(decision: _trace.Decision, names: Names) -> str:
    """``"B" took <lock> before "A" released <lock>``: the picked
    thread's pending step, then the one it went before."""
    tid, kind, what, _ = decision.key
    other_kind, other_what = decision.pending
    other = f'"{names[decision.to]}" {VERBS.get(other_kind, other_kind)}'
    if other_what:
        other += f' {readable(other_what)}'
    if tid is None:
        return f'{other} first'
    me = f'"{names[tid]}" {VERBS.get(kind, kind)}'
    if what and kind != 'start':
        me += f' {readable(what)}'
    elif kind == 'start':
        me += f' "{what}"'
    return f'{other} before {me}'


def divergence(found: _trace.Divergence, names: Names,
               stack: list[str] | None = None) -> str:
    """Where a replay left its recording; ``stack``: the replaying
    thread's, as report lines."""
    step = found.index + 1
    if found.now is None:
        assert found.recorded is not None
        return (f'the replay diverged at step {step}: it ended there, the '
                f'recorded run went on to step {found.length} (next: '
                f'{entry_text(found.recorded, names)})')
    if found.recorded is None:
        headline = (f'the replay diverged at step {step}: the recorded run '
                    f'ended after {found.length} steps')
    else:
        headline = (f'the replay diverged at step {step}: recorded '
                    f'{entry_text(found.recorded, names)}, now '
                    f'{entry_text(found.now, names)}')
    return '\n'.join([headline, 'at:'] + (stack or []))


def over_cap(seed: int, cap: int, choices: int, switches: int,
             point: tuple[int | None, str, str], names: Names) -> str:
    """A run's trace reached its cap at ``point`` (tid, kind, what), the
    step it did not keep."""
    tid, kind, what = point
    where = f'{kind} {readable(what)}' if what else kind
    return (f'the schedule (seed {seed}) stopped at its cap of {cap} '
            f'trace steps ({choices} with a choice of thread, {switches} '
            f'switch(es)): then {_name(names, tid)} was at {where}, and '
            f'from there every thread ran freely. A thread '
            f'that polls or spins (a NaN timeout, a loop on a zero '
            f'timeout) takes steps for as long as it runs; if the test '
            f'needs more, raise the cap with ScheduleFixture(max_steps=...) '
            f'or request(max_steps=...)')


# Why a run may not replay exactly (``ScheduleResult.causes``) ------------

def already_running(name: str) -> str:
    return f'"{name}" was already running when the schedule began'


def real_io(name: str, kind: str, site: str | None) -> str:
    return (f'"{name}" waits for real I/O ({kind}, at '
            f'{site or "an io scope"}), which the schedule can\'t order')


def outsider_woke(by: str, name: str, what: str) -> str:
    return f'"{by}" (not a test thread) woke "{name}" from {what}'


def interrupted(name: str) -> str:
    return f'"{name}" was interrupted while waiting for its turn'


def stalled(name: str | None, where: str, step: int) -> str:
    return (f'"{name}" blocked outside any instrumented wait at {where} (a '
            f'lock made before the clock, a socket, a C extension); every '
            f'thread ran freely from step {step}')


def unhashed() -> str:
    return ('string hashing is randomised: set PYTHONHASHSEED=0 so that '
            'sets and dicts of strings iterate alike in every run')


def summary(result: Any) -> str:
    """A `nova_fixtures.schedule.ScheduleResult` in a few lines."""
    token = getattr(result, 'token', '')
    name = f'schedule {token}' if token else \
        f'seed {result.seed} ({result.strategy})'
    lines = [f'{name}: {result.steps} '
             f'steps, {result.switches} switches, {result.preemptions} '
             f'preemptions; trace {result.fingerprint}, journal '
             f'{result.journal} ({result.journal_entries} entries)']
    if result.divergence is not None:
        lines.append(result.divergence)
    elif result.causes:
        lines.append('replay: not exact:')
        lines.extend(f'  {cause}' for cause in result.causes)
    else:
        lines.append('replay: exact')
    return '\n'.join(lines)
