"""Every private name of CPython and of the libraries that nova_fixtures
relies on, in one place, each with a probe.

The clock and the detector reach into the standard library's threading
internals and into futurist and oslo.messaging, which offer no public way
to do what they need (swap a pool's work queue, choose a server's executor,
name the idle loops of pools). A release that renames one of them would
break the library silently, or far from the cause. `check` probes every
name this list holds and raises `CompatError` naming the library, its
version and the name; ``tests/unit/nova_fixtures/test_compat.py`` has a
canary per name.

Each entry: (library, dotted name, probe). The probe returns whether the
name is there, as the code that uses it needs it. Each module that relies
on a library's private names calls `require` for that library at import:
it probes once per process and raises `CompatError` naming the library's
version and every missing name.
"""

from __future__ import annotations

import _thread
import concurrent.futures
import importlib
import importlib.metadata
import inspect
import queue
import sys
import unittest.runner
from typing import Any, Callable

__all__ = ['CompatError', 'PROBES', 'check', 'missing', 'require']


class CompatError(ImportError):
    """A private name nova_fixtures relies on is missing."""


def _has(obj: Any, *names: str) -> bool:
    return all(hasattr(obj, name) for name in names)


def _module_has(module: str, *names: str) -> Callable[[], bool]:
    return lambda: _has(importlib.import_module(module), *names)


def _functions_in(module: str, *names: str) -> Callable[[], bool]:
    """The module's source file defines functions (or methods) ``names``
    (the clock tells idle loops by file and function name)."""
    def probe() -> bool:
        found = importlib.import_module(module)
        defined = {name for _, obj in inspect.getmembers(found)
                   for name in (getattr(obj, '__name__', None),)}
        for _, cls in inspect.getmembers(found, inspect.isclass):
            defined.update(name for name, _ in inspect.getmembers(cls))
        return all(name in defined for name in names)
    return probe


def _stdlib_pool() -> bool:
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        return isinstance(getattr(pool, '_threads', None), set)
    finally:
        pool.shutdown()


def _futurist_pool() -> bool:
    import futurist
    pool = futurist.ThreadPoolExecutor(1)
    try:
        return isinstance(getattr(pool, '_workers', None), list) and \
            _has(pool, '_work_queue', '_shutdown', '_shutdown_lock',
                 '_submit', '_add_thread', '_maybe_spin_up')
    finally:
        pool.shutdown()


def _futurist_worker() -> bool:
    from futurist import _thread as futurist_thread
    from futurist import _utils
    return _has(futurist_thread.ThreadWorker, 'create_and_register') and \
        _has(_utils, 'WorkItem')


def _work_item_takes_varargs() -> bool:
    """futurist 3.3.0 on: ``WorkItem(future, fn, *args, **kwargs)``."""
    from futurist import _utils
    kinds = {p.kind for p in
             inspect.signature(_utils.WorkItem).parameters.values()}
    return inspect.Parameter.VAR_POSITIONAL in kinds


def _worker_marks_tasks_done() -> bool:
    """futurist 3.2.1 on: its workers call ``task_done()``, which
    ``PromptExecutor.shutdown`` joins on."""
    from futurist import _thread as futurist_thread
    return 'task_done' in inspect.getsource(futurist_thread.ThreadWorker)


def _incoming_takes_msg_id() -> bool:
    """oslo.messaging 14.9.0 on: ``IncomingMessage(ctxt, message,
    msg_id)``."""
    from oslo_messaging._drivers import base
    return 'msg_id' in inspect.signature(
        base.IncomingMessage.__init__).parameters


def _c_rlock() -> bool:
    return _has(_thread.RLock(), '_is_owned', '_release_save',
                '_acquire_restore')


def _server_executor_cls() -> bool:
    from oslo_messaging import server
    init = inspect.getsource(server.MessageHandlingServer.__init__)
    start = inspect.getsource(server.MessageHandlingServer.start)
    return '_executor_cls' in init and '_executor_cls' in start


def _driver_url() -> bool:
    from oslo_messaging._drivers import base
    return 'self._url' in inspect.getsource(base.BaseDriver.__init__)


#: (library, name, probe) for every private name used.
PROBES: list[tuple[str, str, Callable[[], bool]]] = [
    ('python', 'threading._active, _limbo, _allocate_lock, _CRLock, '
     '_PyRLock, _time',
     _module_has('threading', '_active', '_limbo', '_allocate_lock',
                 '_CRLock', '_PyRLock', '_time')),
    ('python', 'queue._PySimpleQueue', lambda: _has(queue, '_PySimpleQueue')),
    ('python', '_thread.RLock._is_owned, _release_save, _acquire_restore',
     _c_rlock),
    ('python', 'concurrent.futures.ThreadPoolExecutor._threads',
     _stdlib_pool),
    ('python', 'unittest.runner._WritelnDecorator',
     lambda: _has(unittest.runner, '_WritelnDecorator')),
    # NOTE(compat): 3.13's Thread.join waits in C (_ThreadHandle.join):
    # _wait_for_tstate_lock is gone, and join is the idle frame.
    ('python', "threading's idle loops (wait, join, before 3.13 "
     "_wait_for_tstate_lock)",
     _functions_in('threading', 'wait', 'join',
                   *(('_wait_for_tstate_lock',)
                     if sys.version_info < (3, 13) else ()))),
    ('python', 'concurrent.futures.thread._worker',
     _functions_in('concurrent.futures.thread', '_worker')),
    ('python', 'selectors select, socketserver serve_forever',
     lambda: _functions_in('selectors', 'select')() and
     _functions_in('socketserver', 'serve_forever')()),
    ('futurist', 'futurist.ThreadPoolExecutor._workers, _work_queue, '
     '_shutdown, _shutdown_lock, _submit, _add_thread, _maybe_spin_up',
     _futurist_pool),
    ('futurist', 'futurist._thread.ThreadWorker.create_and_register, '
     'futurist._utils.WorkItem', _futurist_worker),
    ('futurist', 'futurist._utils.now', _module_has('futurist._utils', 'now')),
    ('futurist', 'futurist._utils.WorkItem(future, fn, *args, **kwargs)',
     _work_item_takes_varargs),
    ('futurist', 'futurist._thread.ThreadWorker calling task_done()',
     _worker_marks_tasks_done),
    ('oslo.messaging', 'oslo_messaging._drivers.base.IncomingMessage('
     'ctxt, message, msg_id)', _incoming_takes_msg_id),
    ('oslo.messaging', 'oslo_messaging.rpc.client._BaseCallContext.cast',
     lambda: _has(importlib.import_module('oslo_messaging.rpc.client')
                  ._BaseCallContext, 'cast')),
    ('oslo.messaging', 'oslo_messaging.transport._get_transport',
     _module_has('oslo_messaging.transport', '_get_transport')),
    ('oslo.messaging', 'MessageHandlingServer._executor_cls',
     _server_executor_cls),
    ('oslo.messaging', 'BaseDriver._url', _driver_url),
]


def _version(library: str) -> str:
    if library == 'python':
        return sys.version.split()[0]
    try:
        return importlib.metadata.version(library)
    except importlib.metadata.PackageNotFoundError:
        return 'not installed'


def missing(library: str | None = None) -> list[str]:
    """A line per private name that is not there: ``<library> <version>:
    <name>``; only ``library``'s names if given."""
    found = []
    for owner, name, probe in PROBES:
        if library is not None and owner != library:
            continue
        try:
            there = probe()
        except (ImportError, AttributeError, OSError, TypeError):
            there = False
        if not there:
            found.append(f'{owner} {_version(owner)}: {name}')
    return found


_required: set[str] = set()


def require(library: str) -> None:
    """Raise `CompatError` if a private name of ``library`` (``python``,
    ``futurist``, ``oslo.messaging``) is missing; probes once per process.
    """
    if library in _required:
        return
    lines = missing(library)
    if not lines:
        _required.add(library)
        return
    _raise(lines)


def check() -> None:
    """Raise `CompatError` if any private name is missing."""
    lines = missing()
    if lines:
        _raise(lines)


def _raise(lines: list[str]) -> None:
    raise CompatError(
        'nova_fixtures relies on private names that this environment '
        'lacks; it needs updating for:\n' +
        '\n'.join(f'  {line}' for line in lines))
