"""The process-wide registry of buses, keyed by ``memory://`` URL.

This registry is the only global state of the transport: one `Broker` per
bus name, made on first use.
"""

from __future__ import annotations

import threading
from typing import Any

from fake_transport import broker as broker_mod
from fake_transport import urls

__all__ = ['brokers', 'discard_broker', 'get_broker']

_lock = threading.Lock()
_brokers: dict[str, broker_mod.Broker] = {}


def get_broker(url: Any) -> broker_mod.Broker:
    """Return the `Broker` behind ``url``, creating it on first use.

    :param url: a ``memory://`` URL, as a string or ``TransportURL``.
    :raises InvalidMemoryURL: for another scheme or a malformed URL.
    """
    name = urls.bus_name(url)
    with _lock:
        broker = _brokers.get(name)
        if broker is None:
            broker = _brokers[name] = broker_mod.Broker(name)
        return broker


def brokers() -> list[broker_mod.Broker]:
    """Return the buses in use (made and not discarded)."""
    with _lock:
        return list(_brokers.values())


def discard_broker(url: Any) -> None:
    """Forget the bus behind ``url``; the next `get_broker` makes a new one.

    Listeners still attached keep the old broker; use it when a test is done
    with a bus of its own.
    """
    name = urls.bus_name(url)
    with _lock:
        broker = _brokers.pop(name, None)
    if broker is not None:
        broker.reset()
