"""Virtual wall time for the clock readings that bypass ``time.time()``.

Patches process-wide, once, and keeps the patch: ``datetime.datetime``,
``datetime.date``, ``time.localtime``, ``gmtime``, ``ctime``, ``asctime``
and ``strftime`` in the ``time`` and ``datetime`` modules and in every
module namespace that holds them (``from datetime import datetime``), found
by an identity scan of ``sys.modules``; a later `install` scans only the
modules imported since. For a thread for which ``read_wall()`` returns
seconds since the epoch, ``datetime.datetime.now()``, ``utcnow()``,
``today()``, ``datetime.date.today()`` and the ``time`` functions called
without a time argument read that time; for any other thread they call the
real functions. This is freezegun's approach (time-machine patches the C
functions themselves instead, which needs a C extension).

The C types can't be patched in place, so their names are bound to
stand-in subclasses that never make instances of their own: calls return
real ``datetime``/``date`` objects, and the metaclass makes
``isinstance``, ``issubclass``, ``==`` and ``hash`` treat a stand-in as the
class it replaces, so type checks and registries keyed by the class
(sqlite3 adapters, ``singledispatch``) keep working. Real instances pickle
through ``copyreg`` to the bytes they pickle to unpatched (except that
protocols below 4 then keep ``fold`` too).

Caveats: C code that calls the real functions internally is not affected;
references held elsewhere than in a module namespace keep the real objects
(class attributes such as ``logging.Formatter.converter``, default
arguments, closures, ``now = datetime.now``), and so do subclasses of the
real classes made before `install`; ``type(x) is datetime.datetime`` is
False while patched (``==`` is True); the real class objects themselves
(not their instances) can't be pickled while patched; a subclass with a
metaclass of its own (freezegun's, ``ABCMeta``) can't be made while
patched.
"""

from __future__ import annotations

import copyreg
import datetime
import functools
import sys
import threading
import time
from typing import Any
from typing import Callable
import warnings

__all__ = ['install', 'uninstall_for_tests']

_REAL_DATETIME = datetime.datetime
_REAL_DATE = datetime.date
_REAL_LOCALTIME = time.localtime
_UTC = datetime.timezone.utc
# NOTE(wallclock): 3.12 deprecated utcnow(); the stand-in warns itself, so
# that the warning still points at the caller's line.
_WARN_UTCNOW = sys.version_info >= (3, 12)
_UTCNOW_DEPRECATED = (
    'datetime.datetime.utcnow() is deprecated and scheduled for removal in '
    'a future version. Use timezone-aware objects to represent datetimes '
    'in UTC: datetime.datetime.now(datetime.UTC).')


def _not_virtual() -> float | None:
    return None


_read_wall: Callable[[], float | None] = _not_virtual
_lock = threading.Lock()
_scanned: set[str] = set()
# NOTE(wallclock): (namespace, name, real, swapped) for every swap done,
# so that uninstall_for_tests() can put the real objects back.
_done: list[tuple[dict[str, Any], str, object, object]] = []
# NOTE(wallclock): id(stand-in) -> the real class it stands for.
_REAL_OF: dict[int, type] = {}


def _real(cls: type) -> type:
    return _REAL_OF.get(id(cls), cls)


class _StandIn(type):
    """Metaclass of the stand-ins: they pass for the real classes."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return type.__call__(_real(cls), *args, **kwargs)

    def __instancecheck__(cls, obj: object) -> bool:
        return type.__instancecheck__(_real(cls), obj)

    def __subclasscheck__(cls, sub: type) -> bool:
        return type.__subclasscheck__(_real(cls), sub)

    def __eq__(cls, other: object) -> bool:
        return isinstance(other, type) and _real(cls) is _real(other)

    def __hash__(cls) -> int:
        return object.__hash__(_real(cls))


def _now(cls: Any, tz: datetime.tzinfo | None) -> Any:
    # NOTE(wallclock): CPython's now(tz) is fromtimestamp(time.time(), tz);
    # a user subclass goes through the real methods, bound to it.
    base: Any = (_REAL_DATETIME if cls is _Datetime
                 else super(_Datetime, cls))
    wall = _read_wall()
    if wall is None:
        return base.now(tz)
    return base.fromtimestamp(wall, tz)


def _today(cls: Any, stand_in: Any, real: Any) -> Any:
    wall = _read_wall()
    if cls is stand_in:
        return real.today() if wall is None else real.fromtimestamp(wall)
    if wall is None:
        return super(stand_in, cls).today()
    return cls.fromtimestamp(wall)


class _Date(datetime.date, metaclass=_StandIn):
    """Stands for ``datetime.date``; calls return real dates."""

    @classmethod
    def today(cls) -> Any:
        return _today(cls, _Date, _REAL_DATE)


class _Datetime(datetime.datetime, metaclass=_StandIn):
    """Stands for ``datetime.datetime``; calls return real datetimes."""

    @classmethod
    def now(cls, tz: datetime.tzinfo | None = None) -> Any:
        return _now(cls, tz)

    @classmethod
    def utcnow(cls) -> Any:
        if _WARN_UTCNOW:
            warnings.warn(_UTCNOW_DEPRECATED, DeprecationWarning,
                          stacklevel=2)
        return _now(cls, _UTC).replace(tzinfo=None)

    @classmethod
    def today(cls) -> Any:
        return _today(cls, _Datetime, _REAL_DATETIME)


for _stand_in, _real_class in ((_Date, _REAL_DATE),
                               (_Datetime, _REAL_DATETIME)):
    _stand_in.__module__ = _real_class.__module__
    _stand_in.__name__ = _stand_in.__qualname__ = _real_class.__name__
    _REAL_OF[id(_stand_in)] = _real_class
del _stand_in, _real_class


def _reduce(obj: datetime.date) -> tuple[Any, ...]:
    # NOTE(wallclock): pickle finds a class by its name, which now leads to
    # the stand-in; a call to the stand-in makes the same real object.
    stand_in = _Datetime if type(obj) is _REAL_DATETIME else _Date
    return stand_in, obj.__reduce_ex__(4)[1]


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
    (_REAL_DATETIME, _Datetime),
    (_REAL_DATE, _Date),
    (time.localtime, _follow_wall(time.localtime, 0, True)),
    (time.gmtime, _follow_wall(time.gmtime, 0, True)),
    (time.ctime, _follow_wall(time.ctime, 0, True)),
    (time.asctime, _follow_wall(time.asctime, 0, False)),
    (time.strftime, _follow_wall(time.strftime, 1, False)),
)


def install(read_wall: Callable[[], float | None]) -> None:
    """Swap the wall-clock functions process-wide.

    Done once; later calls only re-scan modules imported since and update
    ``read_wall``.

    :param read_wall: the calling thread's virtual ``time.time()``, or None
        for a thread not on a virtual clock. Called on every reading, from
        any thread; it must not read the swapped functions itself.
    """
    global _read_wall
    with _lock:
        _read_wall = read_wall
        copyreg.pickle(_REAL_DATETIME, _reduce)
        copyreg.pickle(_REAL_DATE, _reduce)
        swaps = {id(real): (real, swapped) for real, swapped in _SWAPS}
        for module_name, module in list(sys.modules.items()):
            if module_name in _scanned:
                continue
            _scanned.add(module_name)
            namespace = getattr(module, '__dict__', None)
            if module_name == __name__ or not isinstance(namespace, dict):
                continue
            for attr, value in list(namespace.items()):
                pair = swaps.get(id(value))
                if pair is not None and value is pair[0]:
                    namespace[attr] = pair[1]
                    _done.append((namespace, attr, pair[0], pair[1]))


def uninstall_for_tests() -> None:
    """Put every real object back; a later `install` starts afresh."""
    global _read_wall
    with _lock:
        _read_wall = _not_virtual
        for namespace, attr, real, swapped in reversed(_done):
            if namespace.get(attr) is swapped:
                namespace[attr] = real
        _done.clear()
        _scanned.clear()
        for real_class in (_REAL_DATETIME, _REAL_DATE):
            if copyreg.dispatch_table.get(real_class) is _reduce:
                del copyreg.dispatch_table[real_class]
