"""Checks of the public API's numeric arguments, with exact messages.

A bad number is refused where it is given, naming the callable, the
argument and the value, rather than deep inside a wait later (a NaN
timeout polls forever, an infinite one overflows a lock's wait).
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ['is_number', 'seconds']


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
