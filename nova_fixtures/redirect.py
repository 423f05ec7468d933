"""FakeRedirectFixture: a suite's ``fake:`` transports on a ``memory://`` bus.

A suite written for oslo.messaging's ``fake:`` driver opens its transports
itself (``messaging.get_rpc_transport(CONF)`` with ``transport_url =
'fake:/'``, sometimes ``fake://nowhere/``). This fixture sends every one of
them, whatever host or virtual host the URL names, to one fresh
``memory://`` bus of the test, forgotten at cleanup: the ``fake:`` driver
shares one set of exchanges per process, so all ``fake:`` URLs of a test
reach each other, and so they do here. Other schemes pass through
untouched.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any, Iterable

import oslo_messaging
from oslo_messaging import transport as transport_mod

import fake_transport
from nova_fixtures import _compat
from nova_fixtures import _state
from nova_fixtures import fake_differences

__all__ = ['FakeRedirectFixture']

_compat.require('oslo.messaging')

# NOTE(redirect): the innermost active fixture; oslo.messaging's
# _get_transport is wrapped once per process, and passes through untouched
# while no fixture is active.
_active: list['FakeRedirectFixture'] = []
_active_lock = threading.Lock()
_original_get_transport = transport_mod._get_transport


def _current_broker() -> fake_transport.Broker | None:
    """The bus of the innermost active fixture, if any."""
    with _active_lock:
        return _active[-1].broker if _active else None


def _get_transport(conf: Any, url: Any = None,
                   allowed_remote_exmods: Any = None,
                   transport_cls: Any = transport_mod.RPCTransport) -> Any:
    with _active_lock:
        target = _active[-1] if _active else None
    redirected = False
    if target is not None:
        conf.register_opts(transport_mod._transport_opts)
        parsed = url if isinstance(url, oslo_messaging.TransportURL) else \
            oslo_messaging.TransportURL.parse(conf, url)
        if parsed.transport == 'fake':
            url = oslo_messaging.TransportURL.parse(conf, target.url)
            redirected = True
    transport = _original_get_transport(conf, url, allowed_remote_exmods,
                                        transport_cls)
    if redirected and target is not None:
        # NOTE(redirect): as on fake:, a transport kept past its test (a
        # module-level client) goes on working, on the running test's bus.
        transport._driver.follow(
            _current_broker, f'a fake: transport made in {target.made_in}',
            unlisted=_unlisted_exception)
    return transport


def _unlisted_exception(module: str, name: str, where: str) -> str | None:
    """An endpoint's exception reaches a caller as RemoteError (see
    `fake_transport.MemoryDriver.follow`): record it; None keeps fake:'s
    behaviour."""
    with _active_lock:
        fixture = _active[-1] if _active else None
    difference = fake_differences.Difference(
        test=fixture.made_in if fixture is not None else '(no test)',
        behaviour=f'exception type: {where} raised {module}.{name}, which '
                  f'fake: raises in the caller as it is',
        rabbit=f'the caller gets RemoteError, {module} not being in the '
               f'transport\'s allowed_remote_exmods')
    fake_differences.record(difference)
    compat = fixture.fake_compat if fixture is not None else \
        fake_differences.compat_from_environ()
    if compat:
        return None
    return (f'[nova_fixtures: on fake: the caller gets {module}.{name} '
            f'itself; on rabbit, as here, RemoteError, {module} not being '
            f'in allowed_remote_exmods. --fake-compat '
            f'({fake_differences.COMPAT_VAR}=1) keeps fake:\'s behaviour]')


def _install() -> None:
    if transport_mod._get_transport is not _get_transport:
        transport_mod._get_transport = _get_transport
    # NOTE(redirect): suites written for fake: reach the driver module as
    # an attribute (nova's RPCFixture resets
    # messaging._drivers.impl_fake.FakeExchangeManager at cleanup); the
    # attribute exists only once the module was imported, which loading
    # the fake: driver used to do.
    import oslo_messaging._drivers.impl_fake  # noqa: F401


class FakeRedirectFixture(_state.GuardedFixture):
    """Send every ``fake:`` transport opened while set up to ``memory://``.

    The bus is ``memory://fake-<uuid>/``, one per fixture; transports keep
    whatever ``allowed_remote_exmods`` their caller passes. Caution: wraps
    ``oslo_messaging.transport._get_transport`` process-wide (once; it
    passes through while no such fixture is active).

    A transport made while the fixture is set up stays usable after it, as
    a ``fake:`` one does (its ``cleanup()`` stops only its listeners): a
    suite that keeps clients in module globals uses them in later tests,
    where they send on the running test's bus, and the journal says where
    they came from (``from MainThread through a fake: transport made in
    <test>``).

    :param context_handles: context keys whose values travel by handle on
        this bus (`fake_transport.Broker.pass_by_handle`), for suites that
        put live objects in the RPC context, as the ``fake:`` driver
        allowed.
    :param name: what the journal calls the fixture's test (its id); by
        default its bus's URL.
    :param fake_compat: keep ``fake:``'s behaviour where it differs from
        rabbit's (`nova_fixtures.fake_differences`); by default what
        ``NOVA_FIXTURES_FAKE_COMPAT`` says. Either way each such place is
        recorded, and listed in the detail ``fake-transport:differences``.
    :ivar url: the ``memory://`` URL ``fake:`` URLs now reach.
    :ivar broker: its `fake_transport.Broker`.

    Example::

        self.useFixture(FakeRedirectFixture())
        t = oslo_messaging.get_rpc_transport(conf, url='fake:/')
    """

    def __init__(self, context_handles: Iterable[str] = (),
                 name: str = '', fake_compat: bool | None = None) -> None:
        super().__init__()
        self._handles = tuple(context_handles)
        self._url = f'memory://fake-{uuid.uuid4().hex[:12]}/'
        self.made_in = name or self._url
        self.fake_compat = fake_differences.compat_from_environ() \
            if fake_compat is None else fake_compat

    def _setUp(self) -> None:
        self.broker = fake_transport.get_broker(self._url)
        self.addCleanup(fake_transport.discard_broker, self._url)
        if self._handles:
            self.broker.pass_by_handle(*self._handles)
        _install()
        with _active_lock:
            _active.append(self)
        self.addCleanup(self._leave)
        first = fake_differences.count()
        self.addDetail('fake-transport:differences', _state.lazy_text(
            lambda: fake_differences.render(
                [d.line() for d in fake_differences.since(first)
                 if d.test == self.made_in])))
        self.addDetail('fake-transport:counts',
                       _state.lazy_text(self._render_counts))
        self.addDetail('fake-transport:journal',
                       _state.lazy_text(self.broker.journal.render))
        self._ready()

    def _render_counts(self) -> str:
        journal = self.broker.journal
        counts = ', '.join(f'{n} {outcome}'
                           for outcome, n in journal.counts().items())
        return f'{journal.recorded} message(s): {counts}'

    def _leave(self) -> None:
        with _active_lock:
            _active.remove(self)

    @property
    def url(self) -> str:
        return self._url

    def settle(self, timeout: float | None = 60.0) -> None:
        """Wait until nothing is queued for delivery or being handled."""
        self._check_ready()
        self.broker.settle(timeout=timeout)
