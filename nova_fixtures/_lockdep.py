"""Lock-order (lockdep-style) checking over lock classes.

Prior art: Linux lockdep (classes keyed by initialisation site, "possible
circular locking dependency"), Abseil's acquired-before graph. A lock class
is where the lock was made (``file:line``) or, for oslo.concurrency named
locks, ``lockutils:<name>``. Every blocking acquire while holding other
locks adds ``held -> acquired`` edges, each remembered with the stack of its
first sighting; an edge whose reverse path already exists is an inversion,
reported once per pair even if this run never deadlocked.
"""

from __future__ import annotations

import collections
from typing import Callable

__all__ = ['LockGraph']


class LockGraph:
    """The acquired-before graph. Not thread-safe: callers hold a mutex."""

    def __init__(self) -> None:
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

    def acquire(self, thread: str, held: list[str], new: str,
                stack_of: Callable[[], str],
                name_of: Callable[[str], str | None] = lambda c: None,
                taken_at: dict[str, str] | None = None) -> str | None:
        """Record ``held -> new`` edges; return a report for an inversion.

        :param stack_of: renders the acquiring stack, called only for an
            edge seen for the first time.
        :param name_of: the name code gives a class's lock
            (``Engine._lock``), asked only for a report.
        :param taken_at: where each held class was acquired.
        """
        report = None
        stack = None
        for before in held:
            if before == new:
                continue
            if new in self.edges[before]:
                continue
            reverse = self._path(new, before)
            if stack is None:
                stack = stack_of()
            self.edges[before][new] = f'{thread}:\n{stack}\n'
            pair = frozenset((before, new))
            if reverse is None or pair in self.reported:
                continue
            self.reported.add(pair)
            first = self.edges[reverse[0]][reverse[1]]
            names = {c: name_of(c) for c in set(reverse) | {before, new}}

            def full(c: str) -> str:
                return f'{names[c]} ({c})' if names[c] else c

            def short(c: str) -> str:
                return names[c] or c

            chain = ' -> '.join(short(c) for c in reverse)
            where = (taken_at or {}).get(before)
            taken = f' (taken at {where})' if where else ''
            report = (
                f'possible circular locking dependency: {full(new)} is '
                f'taken while holding {full(before)}, but {chain} was taken '
                f'before\n'
                f'  one thread: holds {short(before)}{taken}, waits for '
                f'{short(new)}\n'
                f'  another:    holds {short(new)}, waits for '
                f'{short(before)}\n'
                f'{short(before)} -> {short(new)} first taken by {thread}:\n'
                f'{stack}\n'
                f'{short(reverse[0])} -> {short(reverse[1])} first taken by '
                f'{first}')
            self.reports.append(report)
        return report
