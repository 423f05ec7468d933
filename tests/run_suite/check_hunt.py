"""A suite written for oslo.messaging's fake: driver, for the hunt.

Hunted by tests/unit/nova_fixtures/test_hunt.py (``python -m
nova_fixtures.hunt check_hunt.TestLoaded.test_...`` in this directory).
Like Nova's, it refuses to start when eventlet or this library was
imported before it: the hunt must import its module first.
"""

import sys

_FIRST = sorted(name for name in ('eventlet', 'fake_transport',
                                  'nova_fixtures', 'oslo_messaging')
                if name in sys.modules)
if _FIRST:
    raise RuntimeError(f'imported before the suite: {", ".join(_FIRST)}')

from check_unedited import FakeSuiteTestCase  # noqa: E402


class TestLoaded(FakeSuiteTestCase):

    def test_as_the_run_entry_point_would(self):
        from nova_fixtures import clock

        bubble = clock.active_bubble()
        self.assertIsNotNone(bubble)
        self.assertIsNotNone(bubble.sched)
        self.assertTrue(bubble.detect)
        transport = self.driver_of('fake:/')
        self.assertEqual('MemoryDriver', type(transport._driver).__name__)
        # NOTE(check_hunt): the context key travels by handle: the live
        # object comes back as itself.
        self.assertEqual([[1], True], self.ping(transport, (1,)))
