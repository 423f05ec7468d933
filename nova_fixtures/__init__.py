"""Fixtures for functional tests of OpenStack-style services on threads."""

# NOTE(init): _native first: it refuses an eventlet-patched interpreter
# with a clear error. Then fake_transport: it selects oslo.service's
# threading backend before anything imports oslo_messaging.
from nova_fixtures import _native  # noqa: F401
import fake_transport  # noqa: F401
from nova_fixtures._state import FixtureNotReady
from nova_fixtures.cast_as_call import CastAsCallFixture
from nova_fixtures.clock import ClockError
from nova_fixtures.clock import ClockFixture
from nova_fixtures.clock import DeadlockError
from nova_fixtures.clock import io_answer
from nova_fixtures.clock import io_listen
from nova_fixtures.clock import io_wait
from nova_fixtures.deadlock import DeadlockFixture
from nova_fixtures.deadlock import LockOrderError
from nova_fixtures.deployment import Deployment
from nova_fixtures.deployment import StopErrors
from nova_fixtures.eventlet_guard import EventletUsed
from nova_fixtures.eventlet_guard import NoEventletFixture
from nova_fixtures.executor import PromptExecutor
from nova_fixtures.jitter import PeriodicJitterFixture
from nova_fixtures.notifications import CapturedNotification
from nova_fixtures.notifications import NotificationFixture
from nova_fixtures.notifications import NotificationTimeout
from nova_fixtures.oslo_services import CotyledonServiceFixture
from nova_fixtures.oslo_services import OsloServiceFixture
from nova_fixtures.scatter import DID_NOT_RESPOND
from nova_fixtures.scatter import scatter_gather
from nova_fixtures.scatter import ScatterFaultsFixture
from nova_fixtures.schedule import ScheduleError
from nova_fixtures.schedule import ScheduleFixture
from nova_fixtures.services import NotificationListenerFixture
from nova_fixtures.services import ServiceFixture
from nova_fixtures.testcase import TestCase
from nova_fixtures.threads import ThreadLeak
from nova_fixtures.threads import ThreadLeakFixture
from nova_fixtures.transport import TransportFixture
from nova_fixtures.transport import TransportLeftovers
from nova_fixtures.waiting import WaitTimeout
from nova_fixtures.waiting import wait_until
from nova_fixtures.wsgi import WSGIServiceFixture
from nova_fixtures.wsgi import WSGIStartupError

__all__ = [
    'CapturedNotification',
    'CastAsCallFixture',
    'ClockError',
    'ClockFixture',
    'CotyledonServiceFixture',
    'DID_NOT_RESPOND',
    'DeadlockError',
    'DeadlockFixture',
    'Deployment',
    'EventletUsed',
    'FixtureNotReady',
    'LockOrderError',
    'NoEventletFixture',
    'NotificationFixture',
    'NotificationListenerFixture',
    'NotificationTimeout',
    'OsloServiceFixture',
    'PeriodicJitterFixture',
    'PromptExecutor',
    'ScatterFaultsFixture',
    'ScheduleError',
    'ScheduleFixture',
    'StopErrors',
    'ServiceFixture',
    'TestCase',
    'ThreadLeak',
    'ThreadLeakFixture',
    'TransportFixture',
    'TransportLeftovers',
    'WaitTimeout',
    'WSGIServiceFixture',
    'WSGIStartupError',
    'io_answer',
    'io_listen',
    'io_wait',
    'scatter_gather',
    'wait_until',
]
