"""scatter_gather: run a function per target on native threads, with a
timeout; and fixtures that make chosen targets hang or fail."""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from typing import Any, Callable, Hashable, Iterable

import fixtures

from nova_fixtures import _args

__all__ = ['DID_NOT_RESPOND', 'ScatterFaultsFixture', 'scatter_gather']

LOG = logging.getLogger(__name__)


class _DidNotRespond:
    def __repr__(self) -> str:
        return 'DID_NOT_RESPOND'

    def __reduce__(self) -> str:
        return 'DID_NOT_RESPOND'


#: What `scatter_gather` returns for a target that did not finish in time.
DID_NOT_RESPOND = _DidNotRespond()

_faults_lock = threading.Lock()
_faults: dict[Hashable, Callable[..., Any]] = {}


def scatter_gather(targets: Iterable[Hashable], fn: Callable[..., Any],
                   timeout: float, *args: Any, **kwargs: Any
                   ) -> dict[Hashable, Any]:
    """Call ``fn(target, *args, **kwargs)`` for every target, in parallel.

    Waits at most ``timeout`` seconds (on the virtual clock when a
    `ClockFixture` is active). Returns ``{target: result}``, where the result
    is what ``fn`` returned, the exception object it raised, or
    `DID_NOT_RESPOND`. Work not started by then is cancelled; work running
    is left to finish in the background, logged, its result discarded
    (as Nova's ``scatter_gather_cells`` does).

    :raises TypeError: for a timeout that is not a number.
    :raises ValueError: for a timeout that is negative, NaN or infinite,
        or repeated targets.
    """
    _args.seconds('scatter_gather', 'timeout', timeout)
    targets = list(targets)
    if len(set(targets)) != len(targets):
        raise ValueError(f'targets repeat: {targets!r}')
    if not targets:
        return {}
    executor = concurrent.futures.ThreadPoolExecutor(
        max_workers=len(targets), thread_name_prefix='scatter')
    try:
        futures = {target: executor.submit(_call, target, fn, args, kwargs)
                   for target in targets}
        done, _ = concurrent.futures.wait(list(futures.values()), timeout)
        results: dict[Hashable, Any] = {}
        for target, future in futures.items():
            if future in done:
                error = future.exception()
                results[target] = error if error is not None else \
                    future.result()
                continue
            results[target] = DID_NOT_RESPOND
            if future.cancel():
                LOG.warning('scatter_gather: %r did not start within %s s; '
                            'cancelled', target, timeout)
            else:
                LOG.warning('scatter_gather: %r did not respond within %s '
                            's; left running in the background', target,
                            timeout)
        return results
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


def _call(target: Hashable, fn: Callable[..., Any], args: tuple[Any, ...],
          kwargs: dict[str, Any]) -> Any:
    with _faults_lock:
        fault = _faults.get(target)
    if fault is not None:
        return fault(target, fn, args, kwargs)
    return fn(target, *args, **kwargs)


class ScatterFaultsFixture(fixtures.Fixture):
    """Make chosen `scatter_gather` targets hang or fail ("a down cell").

    A hung target blocks until the fixture's cleanup releases it, so a
    scatter-gather sees it as `DID_NOT_RESPOND` after its timeout (instant
    under a `ClockFixture`) and no thread outlives the test. Caution: the
    faults apply process-wide to `scatter_gather` while the fixture is set
    up.

    Example::

        faults = self.useFixture(ScatterFaultsFixture())
        faults.hang('cell2')
        faults.fail('cell3', DBError('down'))
    """

    def _setUp(self) -> None:
        self._release = threading.Event()
        self._mine: list[Hashable] = []
        self.addCleanup(self._clear)

    def _clear(self) -> None:
        with _faults_lock:
            for target in self._mine:
                _faults.pop(target, None)
        self._release.set()

    def _add(self, target: Hashable, fault: Callable[..., Any]) -> None:
        with _faults_lock:
            if target in _faults:
                raise ValueError(f'{target!r} already has a fault')
            _faults[target] = fault
        self._mine.append(target)

    def hang(self, target: Hashable) -> None:
        """``target`` never answers (until cleanup)."""
        release = self._release

        def hung(target: Hashable, fn: Any, args: Any, kwargs: Any) -> Any:
            release.wait()
            return DID_NOT_RESPOND

        self._add(target, hung)

    def fail(self, target: Hashable, error: BaseException) -> None:
        """``target`` raises ``error`` at once."""
        def failing(target: Hashable, fn: Any, args: Any,
                    kwargs: Any) -> Any:
            raise error

        self._add(target, failing)
