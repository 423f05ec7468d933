"""The process-wide swap of the time functions, and the time lines of
test threads.

``time.sleep``, ``monotonic``, ``time`` and their ``_ns`` forms, and the
wall-clock functions of `nova_fixtures._wallclock` (``localtime``,
``gmtime``, ``ctime``, ``asctime``, ``strftime``; ``datetime``'s ``now``,
``utcnow`` and ``today`` in the classes themselves) are swapped wherever
a module namespace holds them, found by one identity scan of
``sys.modules``; references captured elsewhere (default arguments,
closures, partials) once per process (`nova_fixtures._rebind`). The swap
is done once and kept: outside a clock the swapped functions call the real
ones, a later `install` scans only the modules imported since, and
`uninstall_for_tests` puts every real object back.

A member of the active virtual clock (`nova_fixtures._registry`) reads
the clock's time, a thread of a closed clock its own time line from where
that clock stopped (`retire`), every other thread real time.
"""

from __future__ import annotations

import _thread
import sys
import time
from typing import Any, Callable

from nova_fixtures import _bubble
from nova_fixtures import _rebind
from nova_fixtures import _registry
from nova_fixtures import _vlock
from nova_fixtures import _wallclock

__all__ = ['REAL', 'clock_start', 'forget_retired', 'install', 'retire',
           'start', 'uninstall_for_tests', 'virtual_wall', 'wall_ns']

REAL: dict[str, Callable[..., Any]] = {
    'monotonic': time.monotonic,
    'monotonic_ns': time.monotonic_ns,
    'time': time.time,
    'time_ns': time.time_ns,
    'sleep': time.sleep,
}
_REAL_NS = (time.monotonic_ns, time.time_ns)
_NS = 1_000_000_000
# NOTE(timeswap): virtual time is integer nanoseconds on whole-second
# bases, so readings and their differences are exact for whole seconds and
# binary fractions whatever the host's uptime: (monotonic, wall) bases.
_base_ns = (0, 0)
# NOTE(timeswap): both bases sit this far past a whole second, so that a
# reading with its fraction dropped is older than a later reading, as it
# is in real time (unless the later reading falls on a whole second, which
# takes waits summing to x.498046875 s). A binary fraction (2**-1 + 2**-9):
# sums of whole seconds and binary fractions stay exact floats.
_FRACTION_NS = 501_953_125
# NOTE(timeswap): threads of a closed clock that still run keep reading
# time from where their virtual clock stopped, at the real rate, so
# deadline loops they were in (queue.get, Condition.wait_for) stay
# consistent and time never goes backwards for them: ident -> (monotonic,
# wall) offsets.
_retired: dict[int, tuple[int, int]] = {}
_scanned: set[str] = set()
# NOTE(timeswap): (namespace, name, real, swapped) for every swap the scan
# did, so that uninstall_for_tests() can put the real objects back.
_done: list[tuple[dict[str, Any], str, object, object]] = []
# NOTE(timeswap): whether references to the real time functions held
# outside module namespaces were swapped yet (once per process).
_rebound = False
# NOTE(timeswap): modules that must keep the real functions: ours.
_SKIP_MODULES = ('nova_fixtures._bubble', 'nova_fixtures._core',
                 'nova_fixtures._rebind', 'nova_fixtures._vlock',
                 'nova_fixtures._wallclock', 'nova_fixtures._timeswap',
                 'nova_fixtures._registry', 'nova_fixtures._instrument',
                 'nova_fixtures.clock')


def _virtual_ns(index: int) -> int | None:
    """Now in ns (0 monotonic, 1 wall time) on this thread's virtual time
    line, current or retired; None for a thread that has none."""
    bubble = _registry.active_bubble()
    ident = _thread.get_ident()
    if bubble is not None and bubble.virtual and bubble.is_member(ident):
        return _base_ns[index] + bubble.now_ns
    offset = _retired.get(ident)
    if offset is None:
        return None
    real: int = _REAL_NS[index]()
    return real + offset[index]


def _read_ns(index: int) -> int:
    """Now, as this thread sees it, in ns: 0 monotonic, 1 wall time."""
    virtual = _virtual_ns(index)
    if virtual is None:
        real: int = _REAL_NS[index]()
        return real
    return virtual


def _monotonic_base_ns(real_ns: int) -> int:
    """Where virtual ``time.monotonic()`` starts: a power of two seconds.

    2**20 s (12 days), or the next power of two above the host's uptime:
    never behind a reading taken before the clock, the same on every host
    that has been up less than 12 days (so no virtual outcome depends on
    the uptime), and a base on which sums of whole seconds and binary
    fractions are exact floats, with a unit in the last place under half
    a nanosecond below 2**21 s.
    """
    base = 1 << 20
    while base * _NS < real_ns:
        base <<= 1
    return base * _NS


def _v_monotonic() -> float:
    return _read_ns(0) / _NS


def _v_monotonic_ns() -> int:
    return _read_ns(0)


def _v_time() -> float:
    return _read_ns(1) / _NS


def _v_time_ns() -> int:
    return _read_ns(1)


def _v_sleep(seconds: float) -> None:
    _vlock.check_sleep(seconds)
    bubble = _registry.member()
    if bubble is None or seconds == 0:
        REAL['sleep'](seconds)
        return
    _vlock.sleep(bubble, seconds, REAL['sleep'])


_VIRTUAL = {
    'monotonic': _v_monotonic,
    'monotonic_ns': _v_monotonic_ns,
    'time': _v_time,
    'time_ns': _v_time_ns,
    'sleep': _v_sleep,
}


def clock_start() -> float | None:
    """``time.monotonic()`` when the calling test thread's clock started,
    or None outside a clock: any reading below it was taken before."""
    if _registry.member() is None:
        return None
    return _base_ns[0] / _NS


def virtual_wall() -> float | None:
    """This thread's virtual ``time.time()``, or None if it has none."""
    virtual = _virtual_ns(1)
    return None if virtual is None else virtual / _NS


def wall_ns(bubble: _bubble.Bubble) -> int:
    """``bubble``'s virtual ``time.time_ns()``."""
    return _base_ns[1] + bubble.now_ns


def start(bubble: _bubble.Bubble, start_wall: float | None) -> None:
    """Start the time line of a new virtual clock and swap the time
    functions (`install`) for it.

    :param start_wall: ``time.time()`` at the start (default: real now).
    """
    global _base_ns
    mono = _monotonic_base_ns(_REAL_NS[0]()) + _FRACTION_NS
    if start_wall is not None:
        wall = round(start_wall * _NS)
    else:
        wall = -(-_REAL_NS[1]() // _NS) * _NS + _FRACTION_NS
    _base_ns = (mono, wall)
    install(virtual_wall, lambda: bubble.progress + bubble.acquires
            if bubble.virtual and bubble.is_member(_thread.get_ident())
            else None)
    _rebind_captured()


def retire(bubble: _bubble.Bubble) -> None:
    """``bubble``'s clock closes (its mutex held): its threads still
    running carry on from where its time stopped, at the real rate."""
    offsets = (_base_ns[0] + bubble.now_ns - _REAL_NS[0](),
               _base_ns[1] + bubble.now_ns - _REAL_NS[1]())
    for ident in bubble.members:
        if ident != bubble.root:
            _retired[ident] = offsets


def forget_retired(ident: int) -> None:
    """Thread ``ident`` ended: it has no time line any more."""
    _retired.pop(ident, None)


def _swaps() -> dict[int, tuple[object, object]]:
    """``id(real) -> (real, swapped)`` for every function swapped."""
    swaps: dict[int, tuple[object, object]] = {
        id(real): (real, _VIRTUAL[name]) for name, real in REAL.items()}
    swaps.update(_wallclock.swaps())
    return swaps


def install(read_wall: Callable[[], float | None],
            read_mark: Callable[[], int | None] | None = None) -> None:
    """Swap the time functions wherever a module holds them, and the
    datetime readings in their classes (`_wallclock.install`).

    :param read_wall: the calling thread's virtual ``time.time()``, or None
        for a thread not on a virtual clock (`_wallclock.install`).
    :param read_mark: see `_wallclock.install`.
    """
    _wallclock.install(read_wall, read_mark)
    swaps = _swaps()
    for module_name, module in list(sys.modules.items()):
        if module_name in _scanned:
            continue
        _scanned.add(module_name)
        if module is None or module_name in _SKIP_MODULES:
            continue
        namespace = getattr(module, '__dict__', None)
        if not isinstance(namespace, dict):
            continue
        for attr, value in list(namespace.items()):
            pair = swaps.get(id(value))
            if pair is not None and value is pair[0]:
                namespace[attr] = pair[1]
                _done.append((namespace, attr, pair[0], pair[1]))


def _rebind_captured() -> None:
    """Swap the real time functions wherever Python code captured them
    before the first clock: default arguments, partials, attributes,
    closures (see `nova_fixtures._rebind`). Once per process: from then on
    every name that led to a real function leads to a swapped one, so no
    new capture can be real."""
    global _rebound
    if _rebound:
        return
    _rebound = True
    swaps = _swaps()
    keep: list[object] = [REAL, _REAL_NS, _VIRTUAL, swaps, _done]
    keep.extend(_wallclock.kept())
    for name in _SKIP_MODULES:
        module = sys.modules.get(name)
        if module is not None:
            keep.append(vars(module))
    _rebind.rebind(swaps, keep)


def uninstall_for_tests() -> None:
    """Put every real object back; a later `install` starts afresh."""
    for namespace, attr, real, swapped in reversed(_done):
        if namespace.get(attr) is swapped:
            namespace[attr] = real
    _done.clear()
    _scanned.clear()
    _wallclock.uninstall_for_tests()
