"""Deployment: boot a multi-cell cloud's services in a few lines."""

from __future__ import annotations

import threading
from typing import Any, Iterable, TypeVar

import fixtures

from nova_fixtures import _state
from nova_fixtures import services
from nova_fixtures import transport as transport_mod

__all__ = ['Deployment', 'StopErrors']

_T = TypeVar('_T', bound=fixtures.Fixture)


class StopErrors(RuntimeError):
    """Several services or listeners failed to stop; ``errors`` has each.
    """

    def __init__(self, errors: list[BaseException]) -> None:
        super().__init__(
            f'{len(errors)} services or listeners failed to stop: ' +
            '; '.join(sorted(f'{type(e).__name__}: {e}' for e in errors)))
        self.errors = errors


class Deployment(_state.GuardedFixture):
    """An API-level bus and one isolated bus per cell, and their services.

    :param cells: the cell names; each gets its own ``memory://`` bus.
    :ivar api: the API-level `TransportFixture` (super conductor,
        scheduler, API).
    :ivar cells: cell name -> `TransportFixture`.
    :ivar services: every `ServiceFixture` booted, in order.

    Example::

        cloud = self.useFixture(Deployment(cells=['cell1', 'cell2']))
        cloud.service(Conductor(), 'conductor', 'super')
        for i, cell in enumerate(['cell1', 'cell1', 'cell2']):
            cloud.service(Compute(f'c{i}'), 'compute', f'c{i}', cell=cell)
        cloud.settle()
    """

    def __init__(self, cells: Iterable[str] = ('cell1', 'cell2')) -> None:
        super().__init__()
        self._cell_names = list(cells)
        if len(set(self._cell_names)) != len(self._cell_names):
            raise ValueError(f'cell names repeat: {self._cell_names}')

    def _setUp(self) -> None:
        self.api = self.useFixture(transport_mod.TransportFixture(name='api'))
        self.cells = {
            name: self.useFixture(transport_mod.TransportFixture(name=name))
            for name in self._cell_names}
        self.services: list[services.ServiceFixture] = []
        self._started: list[Any] = []
        self.addCleanup(self._stop_all)
        self._ready()

    def _stop_all(self) -> None:
        """Stop every service and listener at once, then clean them up.

        A real broker's listener can take seconds to stop (the rabbit
        driver's consume timeout); in parallel, teardown costs the longest
        of them, not their sum.
        """
        errors: list[BaseException] = []

        def stop(fixture: Any) -> None:
            try:
                fixture.stop()
            except BaseException as exc:
                errors.append(exc)

        stoppers = [threading.Thread(target=stop, args=(f,), name=f'stop-{i}')
                    for i, f in enumerate(self._started)]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        for fixture in reversed(self._started):
            try:
                fixture.cleanUp()
            except Exception as exc:
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise StopErrors(errors)

    def _track(self, fixture: _T) -> _T:
        fixture.setUp()
        self._started.append(fixture)
        return fixture

    def bus(self, cell: str | None = None) -> transport_mod.TransportFixture:
        """The bus of ``cell``, or the API-level bus for ``None``."""
        self._check_ready()
        if cell is None:
            return self.api
        try:
            return self.cells[cell]
        except KeyError:
            raise ValueError(
                f'no cell {cell!r} in this deployment; cells: '
                f'{", ".join(self.cells)}') from None

    def service(self, manager: Any, topic: str, host: str,
                cell: str | None = None,
                **kwargs: Any) -> services.ServiceFixture:
        """Boot ``manager`` as ``topic``/``host`` on ``cell``'s bus."""
        fixture = self._track(services.ServiceFixture(
            manager, topic, host, self.bus(cell), **kwargs))
        self.services.append(fixture)
        return fixture

    def listener(self, endpoints: Iterable[Any], cell: str | None = None,
                 **kwargs: Any) -> services.NotificationListenerFixture:
        """Start a notification listener on ``cell``'s bus."""
        return self._track(services.NotificationListenerFixture(
            endpoints, self.bus(cell), **kwargs))

    def settle(self, timeout: float = 60.0) -> None:
        """Settle every bus, until a whole pass finds nothing in flight."""
        self._check_ready()
        buses = [self.api] + list(self.cells.values())
        while True:
            busy = False
            for bus in buses:
                assert bus.broker is not None
                if bus.broker.in_flight():
                    busy = True
                    bus.settle(timeout)
            if not busy:
                return
