"""ServiceFixture and NotificationListenerFixture: services on native threads.
"""

from __future__ import annotations

import inspect
import time
import threading
from typing import Any, Iterable

from oslo_config import cfg
import oslo_messaging

from nova_fixtures import _compat
from nova_fixtures import _state
from nova_fixtures import clock
from nova_fixtures import executor as executor_mod
from nova_fixtures import transport as transport_mod

__all__ = ['NotificationListenerFixture', 'ServiceFixture',
           'public_methods']

_compat.require('oslo.messaging')

_registry_lock = threading.Lock()
_running: dict[tuple[str, str, str], 'ServiceFixture'] = {}


def public_methods(obj: Any) -> list[str]:
    """Return the names of ``obj``'s public methods, as RPC would see them.
    """
    return sorted(name for name, value in inspect.getmembers(obj)
                  if not name.startswith('_') and callable(value))


class _PeriodicRunner:
    """Runs ``manager.run_periodic_tasks`` on a native thread until stopped.

    Sleeps between runs on an Event for the idle time the manager returns,
    so ``stop()`` wakes it at once.
    """

    def __init__(self, manager: Any, context: Any, name: str,
                 interval: float | None) -> None:
        self._manager = manager
        self._context = context
        self._interval = interval
        self._stop = threading.Event()
        self.runs = 0
        self._thread = threading.Thread(target=self._run, name=name,
                                        daemon=True)

    def start(self) -> None:
        self._rebase()
        self._thread.start()

    def _rebase(self) -> None:
        """On a clock, a task that is not ``run_immediately`` first runs one
        spacing after the service starts, as it does in a service process
        started right after import.

        oslo.service stamps such a task's last run when the decorator runs,
        at import, with the real ``time.monotonic()``: long before the
        virtual clock's start, so the task would be due at once and its
        later runs would fall on a grid whose phase is the real import
        time, different in every run.
        """
        start = clock.clock_start()
        last_runs = getattr(self._manager, '_periodic_last_run', None)
        if start is None or not isinstance(last_runs, dict):
            return
        now = time.monotonic()
        for name, last in list(last_runs.items()):
            if isinstance(last, float) and last < start:
                last_runs[name] = now

    def _run(self) -> None:
        while not self._stop.is_set():
            idle = self._manager.run_periodic_tasks(self._context,
                                                    raise_on_error=False)
            self.runs += 1
            wait = self._interval if self._interval is not None else idle
            self._stop.wait(max(0.0, wait or 0.0))

    def stop(self, wait: bool = True) -> None:
        self._stop.set()
        if wait and self._thread.is_alive():
            self._thread.join()


class ServiceFixture(_state.GuardedFixture):
    """An RPC server serving ``manager`` on ``topic`` as ``host``.

    The server runs on oslo.messaging's threading executor (with a thread
    pool that stops at once, see `PromptExecutor`), its endpoints being
    ``manager`` plus ``endpoints``. If the manager has
    ``run_periodic_tasks`` (an ``oslo_service.periodic_task.PeriodicTasks``),
    its periodic tasks run on a native thread while the service runs.

    Two services with the same ``(topic, host)`` can't run on one bus at
    once. Cleanup stops the service.

    :param manager: the object whose public methods are served.
    :param topic: the RPC topic.
    :param host: the server name (``Target.server``).
    :param transport: a `TransportFixture` (set up) or an oslo.messaging
        transport.
    :param endpoints: more endpoint objects.
    :param periodic: run periodic tasks (default: when the manager has them).
    :param periodic_interval: fixed seconds between periodic runs (default:
        the idle time ``run_periodic_tasks`` returns).
    :param context: the context passed to periodic tasks.
    :param max_workers: the size of the server's worker pool (default:
        oslo.messaging's ``executor_thread_pool_size``, 64).
    :ivar server: the oslo.messaging RPC server, while running.
    :ivar conf: a private ``cfg.ConfigOpts`` with ``host`` set, for the
        manager to read.

    Example::

        bus = self.useFixture(TransportFixture())
        compute = self.useFixture(ServiceFixture(ComputeManager(),
                                                 'compute', 'c1', bus))
        compute.kill()
        compute.restart()
    """

    def __init__(self, manager: Any, topic: str, host: str,
                 transport: Any, endpoints: Iterable[Any] = (),
                 periodic: bool | None = None,
                 periodic_interval: float | None = None,
                 context: Any = None, exchange: str | None = None,
                 start: bool = True, max_workers: int | None = None) -> None:
        super().__init__()
        if max_workers is not None and (
                not isinstance(max_workers, int) or
                isinstance(max_workers, bool) or max_workers < 1):
            raise ValueError(f'max_workers must be an int >= 1 or None, '
                             f'got {max_workers!r}')
        self.max_workers = max_workers
        if not public_methods(manager):
            raise ValueError(
                f'manager {type(manager).__name__} has no public methods to '
                f'serve on topic {topic!r}')
        self.manager = manager
        self.topic = topic
        self.host = host
        self._transport_arg = transport
        self._endpoints = list(endpoints)
        self._periodic = periodic
        self._periodic_interval = periodic_interval
        self._context = context if context is not None else {}
        self._exchange = exchange
        self._autostart = start
        self.server: Any = None
        self._runner: _PeriodicRunner | None = None
        self._key: tuple[str, str, str] | None = None

    def _setUp(self) -> None:
        transport = self._transport_arg
        if isinstance(transport, transport_mod.TransportFixture):
            transport = transport.transport
        self.transport = transport
        self.conf = cfg.ConfigOpts()
        self.conf.register_opt(cfg.StrOpt('host', default=self.host))
        self._killed: list[Any] = []
        self._ready()
        self.addCleanup(self._reap)
        self.addCleanup(self.stop)
        if self._autostart:
            self.start()

    @property
    def running(self) -> bool:
        return self.server is not None

    @property
    def periodic_runs(self) -> int:
        """How many times the periodic tasks have run since start."""
        return self._runner.runs if self._runner else 0

    def _claim(self) -> None:
        key = (str(self.transport._driver._url), self.topic, self.host)
        with _registry_lock:
            other = _running.get(key)
            if other is not None and other is not self:
                raise ValueError(
                    f'a service for topic {self.topic!r} on host '
                    f'{self.host!r} already runs on {key[0]}')
            _running[key] = self
        self._key = key

    def _release(self) -> None:
        with _registry_lock:
            if self._key and _running.get(self._key) is self:
                del _running[self._key]
        self._key = None

    def start(self) -> None:
        """Start serving; refused if already running."""
        self._check_ready()
        if self.server is not None:
            raise RuntimeError(
                f'service {self.topic}/{self.host} is already running')
        self._claim()
        try:
            target = oslo_messaging.Target(topic=self.topic,
                                           server=self.host,
                                           exchange=self._exchange)
            # NOTE(services): no executor= (deprecated); with no eventlet
            # patching oslo.messaging picks threading.
            server = executor_mod.prompt(oslo_messaging.get_rpc_server(
                self.transport, target, [self.manager] + self._endpoints),
                name=self.host)
            server.start(override_pool_size=self.max_workers)
        except BaseException:
            self._release()
            raise
        self.server = server
        periodic = self._periodic
        if periodic is None:
            periodic = hasattr(self.manager, 'run_periodic_tasks')
        if periodic:
            self._runner = _PeriodicRunner(
                self.manager, self._context,
                f'periodic-{self.topic}-{self.host}',
                self._periodic_interval)
            self._runner.start()

    def stop(self) -> None:
        """Stop serving and wait for handlers to return; no-op if stopped."""
        self._shutdown(kill=False)

    def kill(self) -> None:
        """Stop abruptly, as if the process died; returns at once.

        RPC requests being handled are lost (their callers time out);
        notifications being handled go back to their queue. Handlers already
        running are not interrupted; what they return is dropped. Cleanup
        waits for them (a handler stuck for good hangs cleanup, and the
        hang report names it). On a real broker (``OS_TEST_TRANSPORT_URL``)
        the listener can't be killed: this stops the service and waits, as
        `stop` does.
        """
        self._check_ready()
        self._shutdown(kill=True)

    def _shutdown(self, kill: bool) -> None:
        server, self.server = self.server, None
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.stop(wait=not kill)
        if server is None:
            return
        try:
            listener: Any = getattr(server, 'listener', None)
            abrupt = kill and hasattr(listener, 'kill')
            if abrupt:
                listener.kill()
            server.stop()
            if abrupt:
                # NOTE(services): a dead process waits for nothing; its
                # handlers are reaped at cleanup. (A real broker's listener
                # keeps consuming until wait() closes it: there kill()
                # waits, as stop() does.)
                self._killed.append((server, runner))
            else:
                if runner is not None and kill:
                    runner.stop()
                server.wait()
        finally:
            self._release()

    def _reap(self) -> None:
        killed, self._killed = self._killed, []
        for server, runner in killed:
            if runner is not None:
                runner.stop()
            server.wait()

    def restart(self) -> None:
        """Stop (if running) and start again with the same manager."""
        self.stop()
        self.start()


class NotificationListenerFixture(_state.GuardedFixture):
    """A notification listener on native threads.

    :param endpoints: objects with ``info``/``error``/... methods.
    :param topics: notification topics (default ``['notifications']``).
    :param pool: the pool; listeners in one pool share the messages.
    :param transport: a `TransportFixture` or a notification transport.
    :param allow_requeue: honour ``NotificationResult.REQUEUE``.
    """

    def __init__(self, endpoints: Iterable[Any], transport: Any,
                 topics: Iterable[str] = ('notifications',),
                 pool: str | None = None,
                 allow_requeue: bool = False) -> None:
        super().__init__()
        self.endpoints = list(endpoints)
        if not self.endpoints:
            raise ValueError('a notification listener needs an endpoint')
        self.topics = list(topics)
        self.pool = pool
        self._transport_arg = transport
        self._allow_requeue = allow_requeue
        self.listener: Any = None

    def _setUp(self) -> None:
        transport = self._transport_arg
        if isinstance(transport, transport_mod.TransportFixture):
            transport = transport.notification_transport
        self.transport = transport
        self._ready()
        self.addCleanup(self.stop)
        self.start()

    def start(self) -> None:
        self._check_ready()
        if self.listener is not None:
            raise RuntimeError('notification listener is already running')
        listener = executor_mod.prompt(
            oslo_messaging.get_notification_listener(
                self.transport,
                [oslo_messaging.Target(topic=t) for t in self.topics],
                self.endpoints, pool=self.pool,
                allow_requeue=self._allow_requeue),
            name=f'listener-{self.pool}' if self.pool else 'listener')
        listener.start()
        self.listener = listener

    def stop(self) -> None:
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.stop()
            listener.wait()
