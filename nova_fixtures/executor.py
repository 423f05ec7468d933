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

import functools
import threading
from concurrent import futures
from typing import Any

import futurist
from futurist import _thread as futurist_thread
from futurist import _utils as futurist_utils

from nova_fixtures import _compat

_compat.require('futurist')

__all__ = ['PromptExecutor', 'prompt']


def _nothing() -> None:
    """What a wake-up work item runs."""


class PromptExecutor(futurist.ThreadPoolExecutor):
    """`futurist.ThreadPoolExecutor` with a prompt ``shutdown()``.

    Caution: relies on futurist's ``_workers``, ``_work_queue``,
    ``_shutdown`` and ``_shutdown_lock`` (futurist 3.3.0 on: see
    `nova_fixtures._compat`).
    """

    def __init__(self, *args: Any, thread_name: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # NOTE(executor): workers named after their service ('c1-1'), as
        # the journal names senders, not 'Thread-9'.
        self._thread_name = thread_name
        self._started_workers = 0
        # NOTE(executor): items submitted and not done yet. futurist's
        # ``worker.idle`` is still True for a moment after a worker took an
        # item, so it can't tell whether a worker is free; this count can.
        self._claims = 0
        self._claims_lock = threading.Lock()

    def _release_claim(self, future: futures.Future[Any]) -> None:
        with self._claims_lock:
            self._claims -= 1

    def _submit(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        with self._claims_lock:
            self._claims += 1
        try:
            future = super()._submit(fn, *args, **kwargs)
        except BaseException:
            self._release_claim(futures.Future())
            raise
        future.add_done_callback(self._release_claim)
        return future

    def _add_thread(self) -> None:
        worker = futurist_thread.ThreadWorker.create_and_register(
            self, self._work_queue)
        self._started_workers += 1
        if self._thread_name:
            worker.name = f'{self._thread_name}-{self._started_workers}'
        self._workers.append(worker)
        worker.start()

    def _maybe_spin_up(self) -> bool:
        # NOTE(executor): the item being submitted is counted already: a
        # new worker only if every worker has an item of its own.
        with self._claims_lock:
            free = len(self._workers) >= self._claims
        if self._workers and free:
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


def prompt(server: Any, name: str | None = None) -> Any:
    """Make an oslo.messaging server (not started yet) use `PromptExecutor`.

    Caution: sets ``MessageHandlingServer._executor_cls``, which the server
    reads at ``start()``.

    :param name: workers are named ``<name>-1``, ``<name>-2``...
    :returns: ``server``.
    """
    # NOTE(executor): the server builds its executor from _executor_cls at
    # start(); oslo.messaging offers no public way to choose the class.
    _compat.require('oslo.messaging')
    server._executor_cls = functools.partial(PromptExecutor,
                                             thread_name=name)
    return server
