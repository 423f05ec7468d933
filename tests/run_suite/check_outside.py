"""Tests outside the ``--tests`` prefix: left as they are."""

from oslo_config import cfg
import oslo_messaging
from oslo_messaging import conffixture
import testtools


class TestOutside(testtools.TestCase):

    def test_fake_stays_fake_and_no_clock(self):
        from nova_fixtures import clock
        conf = cfg.ConfigOpts()
        self.useFixture(conffixture.ConfFixture(conf))
        transport = oslo_messaging.get_rpc_transport(conf, url='fake:/')
        self.addCleanup(transport.cleanup)
        self.assertEqual('FakeDriver', type(transport._driver).__name__)
        self.assertIsNone(clock.active_bubble())
