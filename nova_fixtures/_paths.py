"""Paths as reports show them: by module path, not from the file system's
root.

``/home/me/venvs/x/lib/python3.12/site-packages/nova/compute/manager.py``
is shown as ``nova/compute/manager.py``: the path below the longest
``sys.path`` entry (or the working directory) that holds the file, which
is the module's own path and unambiguous where a bare file name would not
be (Nova has a ``manager.py`` per service). A file outside them keeps its
whole path. The full path stays in what is compared or stored (lock
classes, schedule traces); only the text of a report is shortened.
"""

from __future__ import annotations

import os
import sys

__all__ = ['short', 'shown']

_roots_for: tuple[tuple[str, ...], list[str]] = ((), [])
_short_cache: dict[str, str] = {}


def _roots() -> list[str]:
    """``sys.path`` and the working directory, longest first, each ending
    with a separator."""
    global _roots_for
    key = (os.getcwd(), *sys.path)
    if key != _roots_for[0]:
        roots = {os.path.realpath(entry or key[0]) for entry in key}
        _roots_for = (key, sorted(
            (r.rstrip(os.sep) + os.sep for r in roots if os.path.isdir(r)),
            key=len, reverse=True))
        _short_cache.clear()
    return _roots_for[1]


def short(filename: str) -> str:
    """``filename`` below the longest root holding it, else as it is."""
    roots = _roots()
    known = _short_cache.get(filename)
    if known is None:
        real = os.path.realpath(filename) if os.path.isabs(filename) \
            else filename
        known = next((real[len(root):] for root in roots
                      if real.startswith(root)), filename)
        _short_cache[filename] = known
    return known


def shown(site: str) -> str:
    """A site (``file:line``, or a lock class's ``file:line:column``) as a
    report shows it: ``module/path.py:line``."""
    parts = site.rsplit(':', 2)
    if len(parts) == 3 and parts[1].isdigit() and \
            (parts[2].isdigit() or parts[2].startswith('@')):
        return f'{short(parts[0])}:{parts[1]}'
    parts = site.rsplit(':', 1)
    if len(parts) == 2 and parts[1].isdigit():
        return f'{short(parts[0])}:{parts[1]}'
    return site
