"""Virtual wall time for the clock readings that bypass ``time.time()``.

Patches process-wide, once, and keeps the patch. ``datetime.datetime.now``
and ``utcnow`` are replaced in the real class itself (its type dict, as
time-machine swaps the C functions behind them): ``datetime.datetime`` and
``datetime.date`` stay the real classes, so ``type(x) is
datetime.datetime``, ``isinstance``, pickling and a C extension that checks
the layout of the datetime types at import (Cython's, such as msgpack's)
see nothing changed. ``date.today()`` and ``datetime.today()`` read
``time.time()``, which the clock swaps. ``time.localtime``, ``gmtime``,
``ctime``, ``asctime`` and ``strftime`` are swapped in the ``time`` module
and in every module namespace that holds them by
`nova_fixtures._timeswap`'s scan, with the other time functions. For a
thread for which ``read_wall()`` returns seconds since the epoch,
``now()``, ``utcnow()`` and the ``time`` functions called without a
time argument read that time; for any other thread they are the real ones.

Caveats: C code that reads the system clock itself (not through these
functions) is not affected; a subclass that defines ``now`` of its own
(freezegun's ``FakeDatetime``) keeps it.
"""

from __future__ import annotations

import ctypes
import datetime
import functools
import gc
import sys
import threading
import time
from typing import Any
from typing import Callable
import warnings

__all__ = ['install', 'uninstall_for_tests']

_REAL_DATETIME = datetime.datetime
_REAL_LOCALTIME = time.localtime
_UTC = datetime.timezone.utc
# NOTE(wallclock): 3.12 deprecated utcnow(); the swapped one warns itself,
# so that the warning still points at the caller's line.
_WARN_UTCNOW = sys.version_info >= (3, 12)
_UTCNOW_DEPRECATED = (
    'datetime.datetime.utcnow() is deprecated and scheduled for removal in '
    'a future version. Use timezone-aware objects to represent datetimes '
    'in UTC: datetime.datetime.now(datetime.UTC).')


def _not_virtual() -> float | None:
    return None


_read_wall: Callable[[], float | None] = _not_virtual
_lock = threading.Lock()
# NOTE(wallclock): the last virtual datetime reading of the current clock,
# in microseconds since the epoch (see _distinct).
_readings_lock = threading.Lock()
_last_us: int | None = None
_last_mark = 0


def _no_mark() -> int | None:
    return None


_read_mark: Callable[[], int | None] = _no_mark


def _type_dict(cls: type, name: str) -> dict[str, Any]:
    """The dict behind ``cls.__dict__``, writable even for a C type."""
    found = gc.get_referents(cls.__dict__)
    if len(found) != 1 or not isinstance(found[0], dict) or \
            name not in found[0]:
        raise RuntimeError(
            f"nova_fixtures can't make datetime's {name}() virtual on this "
            f"Python ({sys.version.split()[0]}): the dict behind "
            f"{cls.__qualname__}.__dict__ is out of reach")
    namespace: dict[str, Any] = found[0]
    return namespace


def _now(cls: Any, tz: datetime.tzinfo | None = None) -> Any:
    """``datetime.now(tz)``: CPython's is ``fromtimestamp(time.time(),
    tz)``, for the class it is called on."""
    wall = _read_wall()
    if wall is None:
        return _REAL[_REAL_DATETIME, 'now'].__get__(None, cls)(tz)
    return cls.fromtimestamp(_distinct(wall), tz)


def _distinct(wall: float) -> float:
    """``wall`` as a datetime reading: in whole microseconds, and later
    than the previous virtual reading when work came between them.

    On a virtual clock no time passes between two readings unless a wait
    ends, so records stamped one after the other (a database row's
    ``created_at``) would all carry one instant, and a listing sorted by
    stamp would come back in another order than they were made. In real
    time the work between them takes at least the microsecond a datetime
    shows. So a reading that would not be later than the previous one is
    a microsecond after it when work came between: the test's threads
    parked, woke, started or left, or took a lock (creating a record takes
    a database pool's lock, say): the clock's mark moved. Otherwise it
    equals the previous one, as two readings in a row on a fast machine
    do. The mark counts events, not CPU time, so the same run gives the
    same readings.

    Only datetime readings move, for the threads of the current clock:
    ``time.time()`` and ``time.monotonic()`` stay exact, a later wait
    catches the datetime readings up once it passes them, and a thread of
    a closed clock reads its own time line.
    """
    global _last_us, _last_mark
    mark = _read_mark()
    if mark is None:
        return wall
    us = round(wall * 1_000_000)
    with _readings_lock:
        if _last_us is not None and us <= _last_us:
            us = _last_us + 1 if mark != _last_mark else _last_us
        _last_us, _last_mark = us, mark
    return us / 1_000_000


def _utcnow(cls: Any) -> Any:
    if _WARN_UTCNOW:
        warnings.warn(_UTCNOW_DEPRECATED, DeprecationWarning, stacklevel=2)
    return _now(cls, _UTC).replace(tzinfo=None)


def _today(cls: Any) -> Any:
    """``date.today()`` and ``datetime.today()``."""
    wall = _read_wall()
    if wall is None:
        return _REAL[datetime.date, 'today'].__get__(None, cls)()
    return cls.fromtimestamp(wall)


# NOTE(wallclock): (class, name) -> the swapped classmethod, and the real
# one it replaces.
_CLASS_SWAPS: dict[tuple[type, str], Any] = {
    (_REAL_DATETIME, 'now'): classmethod(_now),
    (_REAL_DATETIME, 'utcnow'): classmethod(_utcnow),
    (datetime.date, 'today'): classmethod(_today),
}
_REAL: dict[tuple[type, str], Any] = {
    key: _type_dict(*key)[key[1]] for key in _CLASS_SWAPS}


def _set_class_attributes(values: dict[tuple[type, str], Any]) -> None:
    for (cls, name), value in values.items():
        namespace = _type_dict(cls, name)
        if namespace[name] is not value:
            namespace[name] = value
            # NOTE(wallclock): the type's attribute cache (and its
            # subclasses') must forget the old one.
            ctypes.pythonapi.PyType_Modified(ctypes.py_object(cls))


def _follow_wall(real: Callable[..., Any], lead: int,
                 takes_seconds: bool) -> Callable[..., Any]:
    """Wrap a time function: a call without a time argument means now.

    ``lead`` is the number of arguments before the time (the format of
    ``strftime``); ``takes_seconds`` whether the time is seconds (None
    meaning now) rather than a ``struct_time``.
    """
    @functools.wraps(real)
    def swapped(*args: Any, **kwargs: Any) -> Any:
        given = len(args)
        if not kwargs and (given == lead or (takes_seconds and
                           given == lead + 1 and args[lead] is None)):
            wall = _read_wall()
            if wall is not None:
                when = wall if takes_seconds else _REAL_LOCALTIME(wall)
                return real(*args[:lead], when)
        return real(*args, **kwargs)
    return swapped


_SWAPS: tuple[tuple[object, object], ...] = (
    (time.localtime, _follow_wall(time.localtime, 0, True)),
    (time.gmtime, _follow_wall(time.gmtime, 0, True)),
    (time.ctime, _follow_wall(time.ctime, 0, True)),
    (time.asctime, _follow_wall(time.asctime, 0, False)),
    (time.strftime, _follow_wall(time.strftime, 1, False)),
)


def install(read_wall: Callable[[], float | None],
            read_mark: Callable[[], int | None] | None = None) -> None:
    """Swap the datetime readings in their classes, and set what the
    swapped functions read.

    Later calls update ``read_wall`` and ``read_mark``, and start the
    datetime readings of a new clock (see `_distinct`). The functions of
    ``time`` in `swaps` are swapped in module namespaces by
    `nova_fixtures._timeswap`, which calls this.

    :param read_wall: the calling thread's virtual ``time.time()``, or None
        for a thread not on a virtual clock. Called on every reading, from
        any thread; it must not read the swapped functions itself.
    :param read_mark: for a thread on the current virtual clock, a number
        that changes whenever its threads park, wake, start, leave or take
        a lock; else None, and its readings are ``read_wall``'s.
    """
    global _read_wall, _read_mark, _last_us
    with _lock:
        _read_wall = read_wall
        _read_mark = read_mark or _no_mark
        _last_us = None
        _set_class_attributes(_CLASS_SWAPS)


def swaps() -> dict[int, tuple[object, object]]:
    """``id(real) -> (real, swapped)`` for the time functions to swap."""
    return {id(real): (real, swapped) for real, swapped in _SWAPS}


def kept() -> list[object]:
    """The containers of this module that must keep the real functions."""
    held: list[object] = [globals(), _SWAPS, _REAL]
    held.extend(_SWAPS)
    for _, swapped in _SWAPS:
        held.extend(getattr(swapped, '__closure__', None) or ())
        held.append(getattr(swapped, '__dict__', {}))
    return held


def uninstall_for_tests() -> None:
    """Put the real classmethods back (`nova_fixtures._timeswap`'s
    ``uninstall_for_tests`` puts the real functions back)."""
    global _read_wall
    with _lock:
        _read_wall = _not_virtual
        _set_class_attributes(_REAL)
