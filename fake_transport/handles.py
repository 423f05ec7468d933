"""Pass-by-handle for named context keys: live objects in a context.

Cautions: a deliberate departure from rabbit, and same-process only. Rabbit
(and ``memory://`` by default) sends a context as JSON, so a context holding
a live object (Nova's test ``CheatingSerializer`` puts an oslo.db
transaction context manager in ``ctxt['db_connection']``) can't be sent. The
old ``fake:`` driver passed contexts by reference, so such tests worked.

A bus opted in with `fake_transport.Broker.pass_by_handle` keeps the
value of each named key in its `HandleTable` when a message or notification
is sent, and puts a JSON-able marker, ``{"__fake_transport_handle__": N}``,
in the context instead; the listener that receives the message puts the
very same object back (``is``). Every other key, and a ``None`` value, is
still JSON round-tripped. A handle means nothing to another process, nor
to another bus: it is only good on the bus that made it, until its
`fake_transport.Broker.reset`.
"""

from __future__ import annotations

import itertools
import logging
import threading
from typing import Any, Iterable

__all__ = ['MARKER', 'HandleTable', 'check_keys']

LOG = logging.getLogger(__name__)

MARKER = '__fake_transport_handle__'


def check_keys(what: str, keys: Iterable[Any]) -> frozenset[str]:
    """Return ``keys`` as a set of context keys, or refuse them.

    :param what: how the error names the caller (``'pass_by_handle()'``).
    :raises TypeError: for a key that is not a ``str``.
    :raises ValueError: for an empty key.
    """
    checked = []
    for key in keys:
        if not isinstance(key, str):
            raise TypeError(
                f'{what} takes context keys as str, got {key!r} (type '
                f'{type(key).__name__})')
        if not key:
            raise ValueError(f'{what} got an empty context key')
        checked.append(key)
    return frozenset(checked)


class HandleTable:
    """The live objects one bus passes by handle, and the keys it does so.

    Thread-safe. An object sent again keeps its handle, so sending one
    object many times holds one entry; the table holds each object until
    `clear`, since a message may be delivered more than once (a fanout, a
    pool per notification listener, a requeue, a duplicate fault).
    Handles are never reused, so a marker that outlived a `clear` finds
    nothing rather than another object.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: frozenset[str] = frozenset()
        self._objects: dict[int, Any] = {}
        self._handle_of: dict[int, int] = {}
        self._next = itertools.count(1)

    @property
    def keys(self) -> frozenset[str]:
        """The context keys passed by handle."""
        return self._keys

    def add_keys(self, keys: frozenset[str]) -> None:
        """Pass the values of ``keys`` by handle from now on."""
        with self._lock:
            self._keys = self._keys | keys

    def clear(self) -> None:
        """Forget the keys and every object held."""
        with self._lock:
            self._keys = frozenset()
            self._objects.clear()
            self._handle_of.clear()

    def stash(self, context: dict[str, Any]) -> dict[str, Any]:
        """Return ``context`` with the opted-in values replaced by markers.

        ``context`` itself is left alone: a new dict comes back when a
        value was replaced, else ``context``.
        """
        keys = self._keys
        if not keys:
            return context
        found = [k for k in keys if context.get(k) is not None]
        if not found:
            return context
        stashed = dict(context)
        with self._lock:
            for key in found:
                value = context[key]
                # NOTE(handles): the table holds the object, so its id()
                # can't be reused by another object while it is here.
                handle = self._handle_of.get(id(value))
                if handle is None:
                    handle = next(self._next)
                    self._handle_of[id(value)] = handle
                    self._objects[handle] = value
                stashed[key] = {MARKER: handle}
        return stashed

    def restore(self, ctxt: dict[str, Any]) -> None:
        """Put the objects back in place of the markers in ``ctxt``.

        A marker whose object was forgotten (`clear`) stays as it is.
        """
        keys = self._keys
        if not keys:
            return
        for key in keys:
            value = ctxt.get(key)
            if not (isinstance(value, dict) and len(value) == 1 and
                    isinstance(value.get(MARKER), int)):
                continue
            with self._lock:
                found = value[MARKER] in self._objects
                obj = self._objects.get(value[MARKER])
            if found:
                ctxt[key] = obj
            else:
                LOG.warning('Context key %r holds handle %s, which this '
                            'bus forgot at reset(); left as it is',
                            key, value[MARKER])
