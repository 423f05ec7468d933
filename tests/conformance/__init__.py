"""oslo.messaging's own functional suite, run against ``memory://``.

The suite ships inside the installed oslo.messaging package
(``oslo_messaging/tests/functional/``) and runs against whatever URL
``RPC_TRANSPORT_URL`` / ``NOTIFY_TRANSPORT_URL`` name; it is our conformance
test. Two things stand between it and a native-thread run, and this loader
deals with both without editing the upstream files:

* ``oslo_messaging/tests/__init__.py`` calls ``eventlet.monkey_patch()``. We
  register the ``oslo_messaging.tests`` package without executing that
  ``__init__`` (a plain package module whose ``__path__`` is the real
  directory), so its submodules import normally and nothing is patched.
* its fixtures default to ``executor='eventlet'``. The loader makes
  ``threading`` their default executor.

With neither URL set, the package loads no test, so ``stestr run`` over
``tests/`` stays quiet; ``tox -e conformance`` sets both URLs.

``tox -e conformance-virtual`` runs the same suite, unedited, with every
test inside a ``ClockFixture``, through ``python -m nova_fixtures.run
--clock``; ``MetricsTestCase`` is excluded there, since it sleeps to let an
``oslo_metrics`` subprocess start, which needs real time.
"""

import importlib.util
import os
import sys
import types
import unittest

import fake_transport  # noqa: F401  (selects the threading backend first)


def _import_upstream_tests() -> list[types.ModuleType]:
    spec = importlib.util.find_spec('oslo_messaging')
    assert spec is not None and spec.submodule_search_locations
    tests_dir = os.path.join(list(spec.submodule_search_locations)[0],
                             'tests')
    if 'oslo_messaging.tests' not in sys.modules:
        package = types.ModuleType('oslo_messaging.tests')
        package.__path__ = [tests_dir]
        package.__package__ = 'oslo_messaging.tests'
        sys.modules['oslo_messaging.tests'] = package
    from oslo_messaging.tests.functional import test_functional
    from oslo_messaging.tests.functional.notify import test_logger
    from oslo_messaging.tests.functional import utils

    for fixture in (utils.RpcServerFixture,):
        defaults = list(fixture.__init__.__defaults__ or ())
        fixture.__init__.__defaults__ = tuple(
            'threading' if d == 'eventlet' else d for d in defaults)
    utils.NotificationFixture._get_server = _threaded_notification_server
    utils.BatchNotificationFixture._get_server = _threaded_batch_server
    return [test_functional, test_logger]


def _threaded_notification_server(self, transport, targets):
    import oslo_messaging
    return oslo_messaging.get_notification_listener(
        transport.transport, targets, [self], 'threading')


def _threaded_batch_server(self, transport, targets):
    import oslo_messaging
    return oslo_messaging.get_batch_notification_listener(
        transport.transport, targets, [self], 'threading',
        batch_timeout=self.batch_timeout, batch_size=self.batch_size)


def load_tests(loader, standard_tests, pattern):
    suite = unittest.TestSuite()
    if not (os.environ.get('RPC_TRANSPORT_URL') or
            os.environ.get('NOTIFY_TRANSPORT_URL')):
        return suite
    for module in _import_upstream_tests():
        suite.addTests(loader.loadTestsFromModule(module))
    return suite
