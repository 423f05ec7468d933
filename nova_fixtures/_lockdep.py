"""Lock-order (lockdep-style) checking over lock classes.

Prior art: Linux lockdep (classes keyed by initialisation site, "possible
circular locking dependency"), Abseil's acquired-before graph. A lock class
is where the lock was made (``file:line``) or, for oslo.concurrency named
locks, ``lockutils:<name>`` with the ids folded out of the name
(`fold_ids`: ``lockutils:refresh_cache-<uuid>``), so that the locks of two
instances are one class. Every blocking acquire while holding other locks
adds ``held -> acquired`` edges, each remembered with the stack of its
first sighting; an edge whose reverse path already exists is an inversion,
reported once per pair even if this run never deadlocked.
"""

from __future__ import annotations

import collections
import dataclasses
import re
from typing import Callable, Hashable

from nova_fixtures import _paths

__all__ = ['LockGraph', 'NamedLock', 'fold_ids']

# NOTE(lockdep): an id stands alone: no letter or digit either side, so
# 'v2' and the digits inside a longer hex run stay as they are.
_ALONE_BEFORE = r'(?<![^\W_])'
_ALONE_AFTER = r'(?![^\W_])'
_UUID = re.compile(
    _ALONE_BEFORE + r'(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-'
    r'[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{32})' + _ALONE_AFTER)
_INT = re.compile(_ALONE_BEFORE + r'[0-9]+' + _ALONE_AFTER)


def fold_ids(name: str) -> str:
    """The class of a lock named ``name``: its ids replaced by their kind.

    A uuid, with or without dashes, becomes ``<uuid>``; a standalone
    integer (a run of digits with no letter or digit either side) becomes
    ``<int>``. Nova names per-instance locks by uuid, so folding makes
    ``refresh_cache-<uuid>`` one class for all instances, and an inversion
    between two kinds of lock is found even when each order was seen on a
    different instance. Names without ids are their own class.

    :param name: a lock's name, as given to ``lockutils.lock``.

    Example::

        fold_ids('refresh_cache-6f3e2d4c-0b8a-4a56-9f1e-2c7d8b9a0e11')
        # 'refresh_cache-<uuid>'
        fold_ids('instance-42')  # 'instance-<int>'
    """
    return _INT.sub('<int>', _UUID.sub('<uuid>', name))


@dataclasses.dataclass(frozen=True)
class NamedLock:
    """An oslo.concurrency lock as the detector knows it: by its name.

    lockutils accepts any hashable name (Designate's are bytes,
    ``b'create-new-zone'``) and keeps ``'x'`` and ``b'x'`` apart, so the name
    is kept as given; `text` is how reports spell it.
    """

    name: Hashable

    @property
    def text(self) -> str:
        """The name itself if a str, else its repr (``b'x'``, ``('a', 1)``)."""
        return self.name if isinstance(self.name, str) else repr(self.name)

    @property
    def lock_class(self) -> str:
        """``lockutils:<name, ids folded>``: see `fold_ids`."""
        return f'lockutils:{fold_ids(self.text)}'

    @property
    def concrete(self) -> str:
        """``lockutils:<name>``."""
        return f'lockutils:{self.text}'

    def describe(self) -> str:
        """``lockutils lock "x"`` (a str name) or ``lockutils lock b'x'``."""
        if isinstance(self.name, str):
            return f'lockutils lock "{self.name}"'
        return f'lockutils lock {self.text}'


class LockGraph:
    """The acquired-before graph. Not thread-safe: callers hold a mutex.

    Nodes are lock classes. Two locks of one class taken nested add no
    ``class -> class`` edge: it would report every nesting of two
    instances' locks as an inversion of the class with itself (Linux lockdep
    needs nesting annotations there). Instead, when the two locks' concrete
    names differ from their class (named locks with ids folded out), the
    edge joins the concrete names, so ``A`` then ``B`` on one path and ``B``
    then ``A`` on another is still reported, while ``A`` then ``B`` and
    ``C`` then ``D`` are not. Two locks of one class made at one site
    (``Lock()`` in an ``__init__``) have no concrete name and add nothing.
    """

    def __init__(self) -> None:
        # NOTE(lockdep): before -> after -> first sighting: the thread,
        # the concrete locks when they are not the classes, and the stack.
        self.edges: dict[str, dict[str, str]] = collections.defaultdict(
            dict)
        self.reported: set[frozenset[str]] = set()
        self.reports: list[str] = []

    def _path(self, start: str, goal: str) -> list[str] | None:
        """A path start ->* goal, as a list of classes, or None."""
        seen = {start}
        queue = collections.deque([[start]])
        while queue:
            path = queue.popleft()
            for nxt in self.edges.get(path[-1], {}):
                if nxt == goal:
                    return path + [nxt]
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(path + [nxt])
        return None

    def acquire(self, thread: str, held: list[tuple[str, str, str]],
                new: tuple[str, str], stack_of: Callable[[], str],
                name_of: Callable[[str], str | None] = lambda c: None,
                ) -> str | None:
        """Record ``held -> new`` edges; return a report for an inversion.

        :param held: ``(class, concrete lock, where it was taken)`` of each
            lock held, outermost first; the concrete lock is the class
            itself when it has no other name (``lockutils:<name>``).
        :param new: ``(class, concrete lock)`` of the lock being taken.
        :param stack_of: renders the acquiring stack, called only for an
            edge seen for the first time.
        :param name_of: the name code gives a class's lock
            (``Engine._lock``), asked only for a report.
        """
        report = None
        stack = None
        new_class, new_lock = new
        for before_class, before_lock, where in held:
            before, after = before_class, new_class
            if before == after:
                if before_lock in (before_class, new_lock):
                    continue
                before, after = before_lock, new_lock
            if after in self.edges[before]:
                continue
            reverse = self._path(after, before)
            if stack is None:
                stack = stack_of()
            concrete = {before: before_lock, after: new_lock}
            self.edges[before][after] = (
                f'{thread}{_as_taken(before, after, concrete)}:\n{stack}\n')
            pair = frozenset((before, after))
            if reverse is None or pair in self.reported:
                continue
            self.reported.add(pair)
            report = self._report(thread, before, after, reverse, concrete,
                                  where, stack, name_of)
            self.reports.append(report)
        return report

    def _report(self, thread: str, before: str, new: str,
                reverse: list[str], concrete: dict[str, str], where: str,
                stack: str, name_of: Callable[[str], str | None]) -> str:
        """``possible circular locking dependency: ...``, the text."""
        first = self.edges[reverse[0]][reverse[1]]
        names = {c: name_of(c) for c in set(reverse) | {before, new}}

        def full(c: str) -> str:
            if concrete[c] != c:
                return f'{concrete[c]} ({_paths.shown(c)})'
            return f'{names[c]} ({_paths.shown(c)})' if names[c] \
                else _paths.shown(c)

        def short(c: str) -> str:
            return names[c] or _paths.shown(c)

        def this(c: str) -> str:
            return concrete[c] if concrete[c] != c else short(c)

        chain = ' -> '.join(short(c) for c in reverse)
        taken = f' (taken at {_paths.shown(where)})' if where else ''
        return (
            f'possible circular locking dependency: {full(new)} is taken '
            f'while holding {full(before)}, but {chain} was taken before\n'
            f'  one thread: holds {this(before)}{taken}, waits for '
            f'{this(new)}\n'
            f'  another:    holds {short(new)}, waits for {short(before)}\n'
            f'{short(before)} -> {short(new)} first taken by {thread}'
            f'{_as_taken(before, new, concrete)}:\n'
            f'{stack}\n'
            f'{short(reverse[0])} -> {short(reverse[1])} first taken by '
            f'{first}')


def _as_taken(before: str, after: str, concrete: dict[str, str]) -> str:
    """`` (<lock> -> <lock>)``: the concrete locks of a class edge."""
    if (concrete[before], concrete[after]) == (before, after):
        return ''
    return f' ({concrete[before]} -> {concrete[after]})'
