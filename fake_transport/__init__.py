"""An in-memory oslo.messaging transport, ``memory://``, faithful to rabbit.
"""

# NOTE(backend): first, before anything imports oslo_messaging: importing
# the module selects oslo.service's threading backend.
from fake_transport import backend  # noqa: F401
from fake_transport.broker import Broker
from fake_transport.broker import SettleTimeout
from fake_transport.driver import MemoryDriver
from fake_transport.faults import Fault
from fake_transport.journal import JournalEntry
from fake_transport.registry import discard_broker
from fake_transport.registry import get_broker
from fake_transport.urls import InvalidMemoryURL
from fake_transport.wire import NotSerializable

__all__ = [
    'Broker',
    'Fault',
    'InvalidMemoryURL',
    'JournalEntry',
    'MemoryDriver',
    'NotSerializable',
    'SettleTimeout',
    'discard_broker',
    'get_broker',
]
