"""Services as OpenStack writes them: oslo.service and cotyledon services.

`OsloServiceFixture` boots an ``oslo_service.service.Service`` (Nova's
``nova.service.Service`` is one) and `CotyledonServiceFixture` a
``cotyledon.Service`` (as Ceilometer's agents are), in the test's process,
on native threads: no fork, no signal handler.
"""

from __future__ import annotations

import threading
from typing import Any

import cotyledon
from cotyledon import types as cotyledon_types
from oslo_service.backend.base import ServiceBase

from nova_fixtures import _state

__all__ = ['CotyledonServiceFixture', 'OsloServiceFixture']


class OsloServiceFixture(_state.GuardedFixture):
    """Start an oslo.service service in the calling thread; stop it after.

    ``_setUp`` calls ``service.start()`` in the calling thread, as Nova's
    own functional ``ServiceFixture`` does; cleanup calls ``stop()`` then
    ``wait()``. The service starts whatever threads it wants (an RPC
    server, a thread group); they must be gone once ``wait()`` returns.

    Why not a launcher: on the threading backend
    ``oslo_service.service.launch()``, ``ServiceLauncher`` and
    ``ProcessLauncher`` run the service under a cotyledon
    ``ServiceManager`` (a forked child, signal handlers), and
    ``ProcessLauncher(no_fork=True)`` installs SIGTERM/SIGINT/SIGHUP/SIGALRM
    handlers that ``os._exit()`` the process. ``Launcher`` starts the
    service on an anonymous thread that only logs a failed ``start()``, and
    its ``restart()`` reloads config files. None of that suits a test.

    If ``start()`` raises, the fixture calls ``stop()`` and ``wait()`` on
    the service (so nothing it had started is left running) and raises a
    ``RuntimeError`` naming it, chained to the error.

    :param service: an ``oslo_service.service.ServiceBase`` instance.
    :param name: what errors call the service (default: its class name).
    :ivar service: the service.
    :ivar starts: how many times ``start()`` returned.

    Example::

        bus = self.useFixture(TransportFixture())
        compute = self.useFixture(OsloServiceFixture(
            nova.service.Service.create(binary='nova-compute')))
        compute.restart()
    """

    def __init__(self, service: Any, *, name: str | None = None) -> None:
        super().__init__()
        if isinstance(service, type) and issubclass(service, ServiceBase):
            raise TypeError(
                f'OsloServiceFixture needs a service instance, got the '
                f'class {service.__name__}; pass {service.__name__}(...)')
        if not isinstance(service, ServiceBase):
            raise TypeError(
                f'OsloServiceFixture needs an instance of '
                f'oslo_service.service.ServiceBase, got '
                f'{type(service).__name__}')
        self.service = service
        self.name = name if name is not None else type(service).__name__
        self.starts = 0
        self._running = False

    def _setUp(self) -> None:
        self._ready()
        self.addCleanup(self.stop)
        self.start()

    @property
    def running(self) -> bool:
        """Whether ``start()`` returned and ``stop()`` has not been called.
        """
        return self._running

    def start(self) -> None:
        """Call ``service.start()``; refused if already running.

        :raises RuntimeError: naming the service, when ``start()`` fails
            (the service is stopped and waited for first).
        """
        self._check_ready()
        if self._running:
            raise RuntimeError(f'service {self.name} is already running')
        try:
            self.service.start()
        except Exception as error:
            failure = RuntimeError(
                f'service {self.name} failed to start: '
                f'{type(error).__name__}: {error}')
            # NOTE(oslo-services): start() may have started an RPC server or
            # threads before it failed; stop them so none outlives the test.
            try:
                self.service.stop()
                self.service.wait()
            except Exception as cleanup_error:
                failure.add_note(
                    f'stopping it afterwards failed too: '
                    f'{type(cleanup_error).__name__}: {cleanup_error}')
            raise failure from error
        self._running = True
        self.starts += 1

    def stop(self) -> None:
        """Call ``service.stop()`` then ``service.wait()``; no-op if stopped.
        """
        if not self._running:
            return
        self._running = False
        self.service.stop()
        self.service.wait()

    def restart(self) -> None:
        """Stop and wait (if running), ``reset()``, then start again.

        The order ``oslo_service.service.Launcher.restart`` uses, without
        reloading any configuration.
        """
        self._check_ready()
        self.stop()
        self.service.reset()
        self.start()


class CotyledonServiceFixture(_state.GuardedFixture):
    """Run a ``cotyledon.Service`` in-process, ``run()`` on a native thread.

    Where ``cotyledon.ServiceManager`` forks a worker that builds the
    service, runs ``run()`` on a thread and calls ``terminate()`` on
    SIGTERM, ``_setUp`` builds ``service_cls(worker_id, *args, **kwargs)``
    in the calling thread (so under a `ClockFixture` its locks and events
    follow virtual time) and runs ``run()`` on a thread named
    ``<service name>(<worker_id>)``. Cleanup calls ``terminate()`` in the
    calling thread, then joins that thread.

    ``run()`` may return at once (cotyledon's default does; so does a
    ``run()`` that only starts threads of its own): the service counts as
    running until it is terminated. ``terminate()`` must make ``run()``
    return, or cleanup waits for it (and the test timeout's hang report
    names the thread). If ``run()`` raises (what would make cotyledon exit
    the worker with status 2), ``terminate()`` and cleanup raise a
    ``RuntimeError`` naming the service, chained to the error;
    ``SystemExit(0)`` is a clean exit.

    :param service_cls: a ``cotyledon.Service`` subclass.
    :param args: more positional arguments for ``service_cls``.
    :param worker_id: the worker id passed first to ``service_cls``.
    :param kwargs: keyword arguments for ``service_cls``.
    :ivar service: the service instance, once set up (a new one after
        ``restart()``).
    :ivar thread: the thread running ``service.run()``.

    Example::

        agent = self.useFixture(CotyledonServiceFixture(
            PollingService, conf, worker_id=0))
        notes.wait_for('telemetry.polling', 3)
    """

    def __init__(self, service_cls: Any, *args: Any, worker_id: int = 0,
                 **kwargs: Any) -> None:
        super().__init__()
        if not (isinstance(service_cls, type)
                and issubclass(service_cls, cotyledon.Service)):
            if isinstance(service_cls, cotyledon.Service):
                got = f'an instance of {type(service_cls).__name__}'
            elif isinstance(service_cls, type):
                got = f'the class {service_cls.__name__}'
            else:
                got = type(service_cls).__name__
            raise TypeError(
                f'CotyledonServiceFixture needs a cotyledon.Service '
                f'subclass, got {got}')
        self.service_cls: type[cotyledon.Service] = service_cls
        self.worker_id = cotyledon_types.WorkerId(worker_id)
        self._args = args
        self._kwargs = kwargs
        self.name = f'{service_cls.name}({worker_id})'
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def _setUp(self) -> None:
        self._ready()
        self.addCleanup(self.terminate)
        self._launch()

    @property
    def running(self) -> bool:
        """Whether the service was launched and not terminated."""
        return self._thread is not None

    def _launch(self) -> None:
        service = self.service_cls(self.worker_id, *self._args,
                                   **self._kwargs)
        # NOTE(oslo-services): as cotyledon's ServiceWorker does, in case
        # the subclass's __init__ does not call the base one.
        service.worker_id = self.worker_id
        self.service = service
        self._error = None
        thread = threading.Thread(target=self._run, args=(service,),
                                  name=self.name, daemon=True)
        thread.start()
        self._thread = thread
        self.thread = thread

    def _run(self, service: cotyledon.Service) -> None:
        try:
            service.run()
        except SystemExit as exit_:
            if exit_.code not in (None, 0):
                self._error = exit_
        except BaseException as error:
            self._error = error

    def terminate(self) -> None:
        """Call ``service.terminate()`` and join the ``run()`` thread.

        A no-op when terminated already.

        :raises RuntimeError: naming the service, when ``terminate()`` or
            ``run()`` raised. If ``terminate()`` raised, the thread is not
            joined (a `ThreadLeakFixture` names it if it outlives the test).
        """
        thread, self._thread = self._thread, None
        if thread is None:
            return
        try:
            self.service.terminate()
        except SystemExit as exit_:
            if exit_.code not in (None, 0):
                raise self._failure('terminate()', exit_) from exit_
        except Exception as error:
            raise self._failure('terminate()', error) from error
        thread.join()
        failed, self._error = self._error, None
        if failed is not None:
            raise self._failure('run()', failed) from failed

    def _failure(self, method: str, error: BaseException) -> RuntimeError:
        return RuntimeError(
            f'cotyledon service {self.name} failed in {method}: '
            f'{type(error).__name__}: {error}')

    def restart(self) -> None:
        """Terminate, then run a new instance built with the same arguments.

        What cotyledon's ``ServiceManager`` does when a worker exits: it
        forks a fresh one with the same worker id.
        """
        self._check_ready()
        self.terminate()
        self._launch()

    def reload(self) -> None:
        """Do what SIGHUP would: call ``service.reload()`` if overridden.

        cotyledon's default ``reload()`` sends SIGTERM to the process (so
        the manager starts a fresh worker); here that is `restart`.
        """
        self._check_ready()
        if self._thread is None:
            raise RuntimeError(f'cotyledon service {self.name} is not '
                               f'running')
        if type(self.service).reload is cotyledon.Service.reload:
            self.restart()
        else:
            self.service.reload()
