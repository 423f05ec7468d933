"""ThreadLeakFixture: fail a test that leaves threads running."""

from __future__ import annotations

import concurrent.futures.thread
import logging
import multiprocessing.queues
import sys
import threading
import time
import traceback
import weakref
from typing import Any, Iterable

import fixtures

from nova_fixtures import _abandon
from nova_fixtures import _registry
from nova_fixtures import _state

__all__ = ['ThreadLeak', 'ThreadLeakFixture']

LOG = logging.getLogger(__name__)

# NOTE(threads): frames from these files are runner or plumbing, not the
# code that started the thread.
_NOISE = ('/threading.py', '/testtools/', '/unittest/', '/fixtures/',
          '/stestr/', '/subunit/', '/_pytest/', '/pluggy/',
          '/nova_fixtures/threads.py')


_CF_WORKER = concurrent.futures.thread._worker
_FEED = multiprocessing.queues.Queue._feed  # type: ignore[attr-defined]


class ThreadLeak(AssertionError):
    """Threads started during a test were still running at its end."""


def _origin_stack() -> str:
    frames = [f for f in traceback.extract_stack()[:-2]
              if not any(n in f.filename for n in _NOISE)]
    return ''.join(traceback.format_list(frames[-12:]))


def _stack_of(frame: Any) -> str:
    frames = [f for f in traceback.extract_stack(frame)
              if not any(n in f.filename for n in _NOISE)]
    return ''.join(traceback.format_list(frames[-12:]))


class ThreadLeakFixture(fixtures.Fixture):
    """Fail the test if threads it started are alive at its end.

    Caution: wraps ``threading.Thread.start`` process-wide while active, to
    remember where each thread was started. At cleanup, each thread started
    since ``setUp`` gets up to ``grace`` seconds (in all) to finish, as a
    ``join``; those still alive fail the test with `ThreadLeak`, each named
    with the stack that started it, also attached as the detail
    ``nova-fixtures:threads``. Use it before the fixtures that start
    threads, so its check runs after their cleanups.

    A test that failed in a way that ended it early (a timeout, the
    clock's virtual time budget: see `nova_fixtures._abandon`) is not
    failed a second time: the threads it left running are a consequence of
    the first failure (the test's own code that would have stopped them
    never ran), that error names the cause, and waiting ``grace`` for
    threads that stay blocked only delays the run. They are logged as a
    warning, named as usual, and not waited for.

    :param grace: seconds, in all, to wait for exiting threads.
    :param ignore: thread-name prefixes that may outlive the test.
    """

    def __init__(self, grace: float = 5.0,
                 ignore: Iterable[str] = ()) -> None:
        super().__init__()
        self.grace = grace
        self.ignore = tuple(ignore)

    def _setUp(self) -> None:
        self._before = set(threading.enumerate())
        self.addDetail('nova-fixtures:threads',
                       _state.lazy_text(self._render))
        self._origins: weakref.WeakKeyDictionary[threading.Thread, str] = \
            weakref.WeakKeyDictionary()
        self.addCleanup(self._check)
        original = threading.Thread.start
        origins = self._origins

        # NOTE(threads): entries of an earlier test's clock name idents
        # that may be reused.
        _registry.forget_stuck()
        _abandon.clear()
        started: list[threading.Thread] = []
        self._started = started
        self._stuck: dict[int | None, str] = {}

        def start(thread: threading.Thread, *args: Any, **kw: Any) -> Any:
            origins[thread] = _origin_stack()
            started.append(thread)
            return original(thread, *args, **kw)

        self.useFixture(fixtures.MonkeyPatch('threading.Thread.start',
                                             start))
        pools: weakref.WeakSet[Any] = weakref.WeakSet()
        self._pools = pools
        real_init = concurrent.futures.ThreadPoolExecutor.__init__

        def init(pool: Any, *args: Any, **kwargs: Any) -> None:
            pools.add(pool)
            real_init(pool, *args, **kwargs)

        self.useFixture(fixtures.MonkeyPatch(
            'concurrent.futures.ThreadPoolExecutor.__init__', init))

    def _stuck_threads(self) -> list[threading.Thread]:
        """Threads blocked for good at the clock's close, alive or not."""
        return [t for t in self._started if t.ident in self._stuck and
                not (self.ignore and t.name.startswith(self.ignore))]

    def leaked(self) -> list[threading.Thread]:
        """Threads started since setUp that are alive now, but those that
        serve an object made before it (see `serves_older_object`)."""
        return [t for t in threading.enumerate()
                if t not in self._before and t.is_alive()
                and not (self.ignore and t.name.startswith(self.ignore))
                and not self.serves_older_object(t)]

    def serves_older_object(self, thread: threading.Thread) -> bool:
        """Whether ``thread`` is one the standard library keeps for an
        object that may outlive the test: a worker of a
        ``ThreadPoolExecutor`` made before setUp (it serves the pool), or
        a ``multiprocessing`` queue's feeder (the queue joins it when it is
        closed, or at exit)."""
        target = getattr(thread, '_target', None)
        if target is _FEED:
            return True
        if target is not _CF_WORKER:
            return False
        args = getattr(thread, '_args', ())
        executor = args[0]() if args else None
        return executor is not None and executor not in self._pools

    def _render(self, threads: list[threading.Thread] | None = None) -> str:
        unknown = '  (not seen starting)\n'
        frames = sys._current_frames()
        parts = []
        for t in (self.leaked() if threads is None else threads):
            part = (f'Thread {t.name!r} '
                    f'({"daemon" if t.daemon else "non-daemon"}) started '
                    f'at:\n{self._origins.get(t, unknown)}')
            stuck = self._stuck.get(t.ident or -1)
            if stuck is not None:
                part += f'and, when the clock stopped, {stuck}\n'
            frame = frames.get(t.ident or -1)
            if frame is not None:
                part += f'is now at:\n{_stack_of(frame)}'
            parts.append(part)
        return '\n'.join(parts)

    def _check(self) -> None:
        # NOTE(threads): a thread the clock saw blocked for good when it
        # closed will not finish by itself: no grace to wait out for it.
        stuck = _registry.stuck_at_close()
        self._stuck = {t.ident: stuck[t.ident] for t in self.leaked()
                       if t.ident in stuck}
        abandoned = _abandon.reason()
        deadline = time.monotonic() + self.grace
        for thread in self.leaked():
            if thread.ident not in self._stuck and abandoned is None:
                thread.join(max(0.0, deadline - time.monotonic()))
        leaked = self.leaked()
        leaked += [t for t in self._stuck_threads() if t not in leaked]
        if not leaked:
            return
        report = self._render(leaked)
        names = ', '.join(repr(t.name) for t in leaked)
        message = f'{len(leaked)} thread(s) left running: {names}'
        if abandoned is not None:
            LOG.warning('%s (not waited for, and not a second failure: %s)'
                        '\n%s', message, abandoned, report)
            return
        raise ThreadLeak(f'{message}\n{report}')
