"""CastAsCallFixture: make casts to chosen topics synchronous."""

from __future__ import annotations

from typing import Any, Iterable

import fixtures
from oslo_messaging.rpc import client as rpc_client

from nova_fixtures import _compat

_compat.require('oslo.messaging')

__all__ = ['CastAsCallFixture']


class CastAsCallFixture(fixtures.Fixture):
    """Turn ``cast()`` into ``call()`` for the given topics only.

    Caution: patches ``oslo_messaging.rpc.client._BaseCallContext.cast``
    process-wide for the fixture's life; casts to other topics, fanout
    casts, and (when ``transports`` is given) casts on other transports are
    untouched. A converted cast waits for the handler and raises what it
    raised, as Nova's ``CastAsCallFixture`` does, but only where asked.

    :param topics: the topics whose casts become calls.
    :param transports: limit to these oslo.messaging transports (or
        `TransportFixture` objects).

    Example::

        self.useFixture(CastAsCallFixture(topics=['compute']))
    """

    def __init__(self, topics: Iterable[str],
                 transports: Iterable[Any] | None = None) -> None:
        super().__init__()
        self.topics = frozenset(topics)
        if not self.topics:
            raise ValueError('CastAsCallFixture needs at least one topic')
        self._transports = (None if transports is None else
                            list(transports))

    def _setUp(self) -> None:
        original = rpc_client._BaseCallContext.cast
        topics = self.topics
        transports = None
        if self._transports is not None:
            transports = [getattr(t, 'transport', t)
                          for t in self._transports]

        def cast(context: Any, ctxt: Any, method: str, **kwargs: Any) -> Any:
            target = context.target
            if (target.topic in topics and not target.fanout and (
                    transports is None or any(
                        context.transport is t for t in transports))):
                context.call(ctxt, method, **kwargs)
                return None
            return original(context, ctxt, method, **kwargs)

        self.useFixture(fixtures.MonkeyPatch(
            'oslo_messaging.rpc.client._BaseCallContext.cast', cast))
