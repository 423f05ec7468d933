"""Who waits for which RPC request, told to a deadlock detector.

The memory driver reports, as they happen: a caller about to wait for the
reply to a call (`Observer.calling`) and its wait's end, a request handed
to a server (`Observer.queued`), a worker of that server taking it up and
finishing it. An observer (``nova_fixtures.DeadlockFixture``) makes edges
of its wait-for graph of them: a caller waits for the thread handling its
request; a request queued at a server whose workers are all busy waits for
those workers. With no observer each report costs a global read.
"""

from __future__ import annotations

import threading
from typing import Callable, Protocol

__all__ = ['Observer', 'current', 'observe', 'server_capacity']


class Observer(Protocol):
    """What the driver tells; every method is called in the thread named.
    """

    def calling(self, msg_id: str, label: str) -> None:
        """The calling thread is about to wait for ``msg_id``'s reply.

        May raise (a deadlock the wait would close): the call then raises
        it instead of waiting.
        """

    def call_ended(self, msg_id: str) -> None:
        """The calling thread stopped waiting (reply, timeout, error)."""

    def queued(self, msg_id: str, label: str, server: str,
               key: int) -> None:
        """``msg_id`` (a call, ``label`` such as ``#12 call
        conductor.report_state``) was handed to the listener of the server
        named ``server``, told apart from others by ``key``."""

    def handling(self, msg_id: str, key: int,
                 capacity: int | None) -> None:
        """A worker (the calling thread) of the server ``key`` takes
        ``msg_id`` up; the server has ``capacity`` workers at most (None:
        unknown)."""

    def handled(self, msg_id: str) -> None:
        """The worker is done with ``msg_id`` (replied or gave up)."""

    def timed_out(self, msg_id: str) -> str | None:
        """The call timed out: what the observer knows of why, or None."""


_observer: Observer | None = None
_lock = threading.Lock()


def current() -> Observer | None:
    """The observer, or None."""
    return _observer


def observe(observer: Observer) -> Callable[[], None]:
    """Tell ``observer`` from now on; returns the function that stops it.
    """
    global _observer
    with _lock:
        if _observer is not None:
            raise RuntimeError('an RPC wait observer is already set')
        _observer = observer

    def stop() -> None:
        global _observer
        with _lock:
            if _observer is observer:
                _observer = None

    return stop


def server_capacity() -> int | None:
    """How many workers the executor running the calling thread has at
    most: a futurist worker's executor's ``max_workers``; else None."""
    ref = getattr(threading.current_thread(), 'executor_ref', None)
    executor = ref() if ref is not None else None
    workers = getattr(executor, '_max_workers', None)
    return workers if isinstance(workers, int) else None
