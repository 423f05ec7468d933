"""Checks of the public API's numeric arguments, with exact messages.

A bad number is refused where it is given, naming the callable, the
argument and the value, rather than deep inside a wait later (a NaN
timeout polls forever, an infinite one overflows a lock's wait).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

__all__ = ['env_flag', 'is_number', 'seconds']

_TRUE = ('1', 'true', 'yes', 'on')
_FALSE = ('', '0', 'false', 'no', 'off')


def env_flag(environ: Mapping[str, str], name: str,
             read_for: str = '') -> bool:
    """The switch the variable ``name`` of ``environ`` holds (unset or
    empty is off).

    :raises ValueError: not one of 1, 0, true, false, yes, no, on, off (any
        case): ``<name>=<value!r>: write 1 or 0 (or true, false, yes,
        no)``, with `` (read for <read_for>)`` after the value when given.
    """
    value = environ.get(name, '').strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    where = f' (read for {read_for})' if read_for else ''
    raise ValueError(f'{name}={environ[name]!r}{where}: write 1 or 0 (or '
                     f'true, false, yes, no)')


def is_number(value: Any) -> bool:
    """An int or a float; a bool is not a number of anything here."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def seconds(owner: str, name: str, value: Any, positive: bool = False,
            infinite: bool = False) -> None:
    """Refuse ``value`` unless it is a number of seconds ``>= 0`` (``> 0``
    with ``positive``), finite unless ``infinite``.

    :raises TypeError: not a number: ``<owner> <name> must be a number of
        seconds, got <value!r>``.
    :raises ValueError: NaN, too small or infinite: ``<owner> <name> must
        be a finite number of seconds >= 0, got <value!r>``.
    """
    if not is_number(value):
        raise TypeError(f'{owner} {name} must be a number of seconds, got '
                        f'{value!r}')
    # NOTE(args): NaN fails both comparisons; an int too large for a
    # float compares exactly.
    good = value > 0 if positive else value >= 0
    if not infinite and value == math.inf:
        good = False
    if not good:
        kind = 'a number' if infinite else 'a finite number'
        bound = '> 0' if positive else '>= 0'
        raise ValueError(f'{owner} {name} must be {kind} of seconds '
                         f'{bound}, got {value!r}')
