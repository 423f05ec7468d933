"""A futurist thread pool that stops at once, for servers under test.

``futurist.ThreadPoolExecutor`` workers wait for work with
``queue.get(timeout=MAX_IDLE_FOR)`` (1 s) and only then notice a shutdown,
so stopping an RPC server that has handled a message takes about a second;
Nova patches ``MAX_IDLE_FOR`` to 0.01 s, turning every idle worker into a
10 ms poller. `PromptExecutor` instead wakes its idle workers on shutdown,
and starts a new worker only when no idle one can take the work (futurist
starts one per ``submit()`` up to the maximum).
"""

from __future__ import annotations

from concurrent import futures
from typing import Any

import futurist
from futurist import _utils as futurist_utils

__all__ = ['PromptExecutor', 'prompt']


def _nothing() -> None:
    """What a wake-up work item runs."""


class PromptExecutor(futurist.ThreadPoolExecutor):
    """`futurist.ThreadPoolExecutor` with a prompt ``shutdown()``.

    Caution: relies on futurist's ``_workers``, ``_work_queue``,
    ``_shutdown`` and ``_shutdown_lock`` (futurist 3.x).
    """

    def _maybe_spin_up(self) -> bool:
        idle = sum(1 for worker in self._workers if worker.idle)
        # NOTE(executor): the item being submitted is not queued yet, so
        # qsize() < idle means an idle worker is left over for it.
        if self._workers and self._work_queue.qsize() < idle:
            return False
        return bool(super()._maybe_spin_up())

    def shutdown(self, wait: bool = True, *,
                 cancel_futures: bool = False) -> None:
        with self._shutdown_lock:
            if not self._shutdown:
                self._shutdown = True
                if wait:
                    self._work_queue.join()
                for worker in self._workers:
                    worker.stop()
                for _ in self._workers:
                    wake: futures.Future[Any] = futures.Future()
                    self._work_queue.put(
                        futurist_utils.WorkItem(wake, _nothing))
        if wait:
            for worker in self._workers:
                worker.join()


def prompt(server: Any) -> Any:
    """Make an oslo.messaging server (not started yet) use `PromptExecutor`.

    Caution: sets ``MessageHandlingServer._executor_cls``, which the server
    reads at ``start()``.

    :returns: ``server``.
    """
    # NOTE(executor): the server builds its executor from _executor_cls at
    # start(); oslo.messaging offers no public way to choose the class.
    if not hasattr(server, '_executor_cls'):
        raise RuntimeError(
            'this oslo.messaging has no MessageHandlingServer._executor_cls; '
            'nova_fixtures needs updating for it')
    server._executor_cls = PromptExecutor
    return server
