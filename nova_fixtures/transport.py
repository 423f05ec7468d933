"""TransportFixture: an isolated message bus for one test."""

from __future__ import annotations

import os
import threading
import uuid
from typing import Any

from oslo_config import cfg
import oslo_messaging
from oslo_messaging import conffixture
from testtools import content
from testtools import content_type

import fake_transport
from fake_transport import diagram
from fake_transport import handles
from nova_fixtures import _state
from nova_fixtures import rabbitmq

__all__ = ['TransportFixture', 'TransportLeftovers']

ENV_URL = 'OS_TEST_TRANSPORT_URL'


class TransportLeftovers(AssertionError):
    """A test left messages unconsumed or listeners running on its bus."""


# NOTE(transport): TransportFixtures set up on one memory:// URL share its
# bus; the last one cleaned up discards it. bus name -> fixtures using it.
_bus_users: dict[str, int] = {}
_bus_lock = threading.Lock()


def _share_bus(url: str) -> fake_transport.Broker:
    with _bus_lock:
        broker = fake_transport.get_broker(url)
        _bus_users[broker.name] = _bus_users.get(broker.name, 0) + 1
        return broker


def _unshare_bus(url: str) -> None:
    with _bus_lock:
        name = fake_transport.get_broker(url).name
        users = _bus_users.pop(name, 1) - 1
        if users:
            _bus_users[name] = users
            return
    fake_transport.discard_broker(url)


def _check_names(what: str, kind: str, names: Any) -> tuple[str, ...]:
    """Return ``names`` as a tuple, refusing a lone string.

    Iterated, a string would give its characters; and oslo.messaging
    checks a module with ``in``, which on a string matches substrings.
    """
    if isinstance(names, str):
        raise TypeError(
            f'{what} takes a list or tuple of {kind}, not a str: write '
            f'({names!r},)')
    return tuple(names)


class TransportFixture(_state.GuardedFixture):
    """A fresh ``memory://`` bus per test, with oslo.config set up for it.

    The URL is ``memory://test-<uuid>[-<name>]/`` unless given, or unless
    ``OS_TEST_TRANSPORT_URL`` names another transport (a real broker), in
    which case that URL is used; under ``python -m
    nova_fixtures.with_rabbitmq`` each fixture gets a vhost of its own on
    that broker, deleted at cleanup. Several fixtures give several
    isolated buses (one per cell).

    oslo.config is set up through ``oslo_messaging.conffixture.ConfFixture``
    on ``conf`` (a private ``cfg.ConfigOpts`` by default), with
    ``transport_url`` pointing at the bus.

    At cleanup it attaches the details ``fake-transport:journal``,
    ``fake-transport:unconsumed`` and ``fake-transport:listeners`` (empty
    ones vanish), and the journal as a message sequence diagram,
    ``fake-transport:sequence`` (text) and ``fake-transport:sequence-html``
    (an HTML page with an SVG); it stops every listener still running, and
    forgets the bus.
    With ``fail_on_unconsumed`` / ``fail_on_listeners`` it raises
    `TransportLeftovers` when the test left either behind.

    :param url: the transport URL (default: a unique ``memory://`` bus).
    :param name: a suffix for the default URL, such as ``'cell1'``.
    :param conf: the ``cfg.ConfigOpts`` to configure.
    :param journal_limit: how many journal entries the bus keeps (``0``:
        none, ``None``: all); by default ``FAKE_TRANSPORT_JOURNAL``, else
        the last 10,000. Counts per outcome stay exact either way.
    :param allowed_remote_exmods: the modules whose exceptions an RPC call
        re-raises as ``<Name>_Remote`` (a subclass of the endpoint's
        exception class) rather than ``oslo_messaging.RemoteError``, as
        Nova passes ``nova.exception`` and friends; given to both
        transports. oslo.messaging has no config option for it, so it comes
        from this argument only (default: none, builtin exceptions only).
    :param context_handles: context keys whose values a ``memory://`` bus
        passes by handle, the very same object, rather than as JSON
        (`fake_transport.Broker.pass_by_handle`): a departure from rabbit
        for Nova's ``CheatingSerializer``, which puts ``db_connection`` and
        ``mq_connection`` in the context. Added to the bus's keys, which
        stay until the bus is discarded. Refused with a real broker.
    :ivar url: the URL in use.
    :ivar transport: the RPC transport.
    :ivar notification_transport: the notification transport.
    :ivar broker: the `fake_transport.Broker`, or ``None`` on a real broker.

    Example::

        bus = self.useFixture(TransportFixture(
            name='cell1', allowed_remote_exmods=['nova.exception'],
            context_handles=('db_connection', 'mq_connection')))
        bus.rpc_client('compute', server='c1').cast({}, 'reboot')
        bus.settle(timeout=10)
    """

    def __init__(self, url: str | None = None, name: str | None = None,
                 conf: cfg.ConfigOpts | None = None,
                 fail_on_unconsumed: bool = False,
                 fail_on_listeners: bool = False,
                 journal_limit: int | None | str = 'environment',
                 allowed_remote_exmods: (
                     list[str] | tuple[str, ...] | None) = None,
                 context_handles: tuple[str, ...] = ()) -> None:
        super().__init__()
        if journal_limit != 'environment' and journal_limit is not None \
                and (isinstance(journal_limit, bool) or
                     not isinstance(journal_limit, int) or journal_limit < 0):
            raise ValueError(
                f'journal_limit must be a whole number of entries >= 0 or '
                f'None, got {journal_limit!r}')
        self._journal_limit = journal_limit
        env_url = os.environ.get(ENV_URL)
        self._vhost: str | None = None
        if url is None:
            if env_url and not env_url.startswith('memory:'):
                url = env_url
                if rabbitmq.control_env() is not None:
                    suffix = f'-{name}' if name else ''
                    self._vhost = f'test-{uuid.uuid4().hex[:12]}{suffix}'
                    url = url.rstrip('/') + '/' + self._vhost
            else:
                suffix = f'-{name}' if name else ''
                url = f'memory://test-{uuid.uuid4().hex[:12]}{suffix}/'
        self._url = url
        self._conf = conf
        self._allowed_remote_exmods = _check_names(
            'allowed_remote_exmods', 'module names',
            allowed_remote_exmods or ())
        self._context_handles = tuple(sorted(handles.check_keys(
            'context_handles', _check_names('context_handles',
                                            'context keys',
                                            context_handles))))
        if self._context_handles and not url.startswith('memory:'):
            raise ValueError(
                f'context_handles needs a memory:// bus; {url} is a real '
                f'broker, where a context only travels as JSON')
        self.fail_on_unconsumed = fail_on_unconsumed
        self.fail_on_listeners = fail_on_listeners

    def _setUp(self) -> None:
        self.conf = self._conf if self._conf is not None else \
            cfg.ConfigOpts()
        self.useFixture(conffixture.ConfFixture(self.conf))
        self.conf.set_override('transport_url', self._url)
        self.broker = None
        control = rabbitmq.control_env()
        if self._vhost is not None and control is not None:
            env = dict(os.environ, **control)
            rabbitmq.add_vhost(env, self._vhost)
            self.addCleanup(rabbitmq.delete_vhost, env, self._vhost)
        if self._url.startswith('memory:'):
            self.broker = _share_bus(self._url)
            self.addCleanup(_unshare_bus, self._url)
            if self._journal_limit != 'environment':
                self.broker.journal.limit = self._journal_limit  # type: ignore
            if self._context_handles:
                self.broker.pass_by_handle(*self._context_handles)

        exmods = list(self._allowed_remote_exmods)
        self.transport = oslo_messaging.get_rpc_transport(
            self.conf, url=self._url, allowed_remote_exmods=exmods)
        self.addCleanup(self.transport.cleanup)
        self.notification_transport = \
            oslo_messaging.get_notification_transport(
                self.conf, url=self._url, allowed_remote_exmods=exmods)
        self.addCleanup(self.notification_transport.cleanup)
        if self.broker is not None:
            # NOTE(transport): testtools reads a fixture's details just
            # before its cleanUp, after the fixtures set up later (services)
            # are cleaned up: the state of the bus at the end of the test.
            for name, render in (('journal', self._render_journal),
                                 ('unconsumed', self._render_unconsumed),
                                 ('listeners', self._render_listeners)):
                self.addDetail(f'fake-transport:{name}',
                               _state.lazy_text(render))
            self.addDetail('fake-transport:sequence',
                           _state.lazy_text(self._render_sequence))
            self.addDetail('fake-transport:sequence-html', content.Content(
                content_type.ContentType('text', 'html',
                                         {'charset': 'utf8'}),
                lambda: [self._render_sequence_html().encode('utf-8')]))
            self.addCleanup(self._report)
        self._ready()

    @property
    def url(self) -> str:
        return self._url

    def _render_journal(self) -> str:
        assert self.broker is not None
        return self.broker.journal.render()

    def _render_sequence(self) -> str:
        assert self.broker is not None
        return diagram.render_text(self.broker.journal.entries())

    def _render_sequence_html(self) -> str:
        assert self.broker is not None
        return diagram.render_html(self.broker.journal.entries(),
                                   title=f'Messages on {self.url}')

    def _render_unconsumed(self) -> str:
        assert self.broker is not None
        return '\n'.join(str(e) for e in self.broker.unconsumed())

    def _render_listeners(self) -> str:
        assert self.broker is not None
        return '\n'.join(repr(item) for item in self.broker.listeners())

    def _report(self) -> None:
        assert self.broker is not None
        unconsumed = self.broker.unconsumed()
        listeners = self.broker.listeners()
        problems = []
        if self.fail_on_unconsumed and unconsumed:
            problems.append(f'{len(unconsumed)} message(s) left unconsumed '
                            f'on {self.url}')
        if self.fail_on_listeners and listeners:
            problems.append(f'{len(listeners)} listener(s) left running on '
                            f'{self.url}')
        if problems:
            raise TransportLeftovers('; '.join(problems) +
                                     ' (see the fake-transport details)')

    def rpc_client(self, topic: str, server: str | None = None,
                   **kwargs: Any) -> oslo_messaging.RPCClient:
        """Return an RPC client for ``topic`` (and ``server``) on this bus."""
        self._check_ready()
        return oslo_messaging.get_rpc_client(
            self.transport, oslo_messaging.Target(topic=topic, server=server),
            **kwargs)

    def notifier(self, publisher_id: str,
                 topics: tuple[str, ...] | list[str] = ('notifications',),
                 driver: str = 'messagingv2') -> oslo_messaging.Notifier:
        """Return a notifier publishing to ``topics`` on this bus."""
        self._check_ready()
        return oslo_messaging.Notifier(
            self.notification_transport, publisher_id=publisher_id,
            driver=driver, topics=list(topics))

    def settle(self, timeout: float | None = 60.0) -> None:
        """Wait until nothing is queued for delivery or being handled.

        :raises fake_transport.SettleTimeout: listing what is in flight.
        :raises RuntimeError: on a real broker, which can't tell.
        """
        self._check_ready()
        if self.broker is None:
            raise RuntimeError(
                f'settle() needs a memory:// bus; {self.url} is a real '
                f'broker')
        self.broker.settle(timeout=timeout)
