"""memory:// URLs: bus names and clear errors for bad ones."""

from oslo_config import cfg
import oslo_messaging
import testtools

import fake_transport
from fake_transport import urls


class TestBusName(testtools.TestCase):

    def test_default_and_named_buses(self):
        self.assertEqual(
            ['', '', 'cell1', 'cell1', 'host/vhost'],
            [urls.bus_name(u) for u in (
                'memory://', 'memory:///', 'memory://cell1/',
                'memory:///cell1', 'memory://host/vhost')])

    def test_transport_url_objects_name_the_same_bus(self):
        parsed = oslo_messaging.TransportURL.parse(cfg.ConfigOpts(),
                                                   'memory://cell2/')
        self.assertEqual('cell2', urls.bus_name(parsed))
        self.assertIs(fake_transport.get_broker('memory://cell2/'),
                      fake_transport.get_broker(parsed))
        fake_transport.discard_broker('memory://cell2/')

    def test_other_scheme_is_refused(self):
        error = self.assertRaises(fake_transport.InvalidMemoryURL,
                                  fake_transport.get_broker,
                                  'rabbit://guest@127.0.0.1/')
        self.assertEqual(
            "'rabbit://guest@127.0.0.1/' is not a memory:// URL (scheme "
            "'rabbit'); use memory:// or memory://<bus>/", str(error))

    def test_malformed_urls_are_refused_with_exact_errors(self):
        cases = {
            'memory:cell1': "'memory:cell1' is malformed: write memory:// "
                            "or memory://<bus>/",
            'memory://u:p@bus/': "'memory://u:p@bus/' is malformed: a "
                                 "memory:// URL names a bus only, without "
                                 "user, password or port",
            'memory://bus/?x=1': "'memory://bus/?x=1' is malformed: a "
                                 "memory:// URL takes no query or fragment",
            'memory://b us/': "'memory://b us/' is malformed: a bus name is "
                              "letters, digits and '._~%-' "
                              "(memory://<bus>/)",
            'memory://a/b/c': "'memory://a/b/c' is malformed: a bus name is "
                              "letters, digits and '._~%-' "
                              "(memory://<bus>/)",
        }
        for url, message in cases.items():
            error = self.assertRaises(fake_transport.InvalidMemoryURL,
                                      fake_transport.get_broker, url)
            self.assertEqual(message, str(error))

    def test_non_string_is_refused(self):
        error = self.assertRaises(fake_transport.InvalidMemoryURL,
                                  urls.bus_name, 42)
        self.assertEqual('a transport URL must be a string, got int',
                         str(error))

    def test_oslo_messaging_loads_the_driver_by_scheme(self):
        conf = cfg.ConfigOpts()
        transport = oslo_messaging.get_rpc_transport(conf,
                                                     url='memory://x-y/')
        self.addCleanup(transport.cleanup)
        self.addCleanup(fake_transport.discard_broker, 'memory://x-y/')
        self.assertIsInstance(transport._driver, fake_transport.MemoryDriver)
        self.assertIs(fake_transport.get_broker('memory://x-y/'),
                      transport._driver.broker)


class TestNoAliasing(testtools.TestCase):
    """Issue 10 item 12: no URL silently names another bus."""

    def assertRefused(self, message, url):
        error = self.assertRaises(fake_transport.InvalidMemoryURL,
                                  urls.bus_name, url)
        self.assertEqual(message, str(error))

    def test_control_characters_are_refused_not_deleted(self):
        for url in ('memory://a\nb/', 'memory://a\tb/', 'memory://a\rb/',
                    '\x00memory://ab/', 'memory:///a\x7fb'):
            self.assertRefused(
                f"{url!r} is malformed: a memory:// URL holds no control "
                f"characters (such as tab or newline)", url)

    def test_scheme_with_a_plus_suffix_is_refused(self):
        self.assertRefused(
            "'memory+foo://x/' is not a memory:// URL (scheme "
            "'memory+foo'); use memory:// or memory://<bus>/",
            'memory+foo://x/')

    def test_oslo_messaging_loading_memory_for_memory_plus_is_refused(self):
        # NOTE(tests): oslo.messaging loads the driver named before '+'.
        error = self.assertRaises(fake_transport.InvalidMemoryURL,
                                  oslo_messaging.get_rpc_transport,
                                  cfg.ConfigOpts(), url='memory+foo://x/')
        self.assertEqual(
            "'memory+foo://x/' is not a memory:// URL (scheme "
            "'memory+foo'); use memory:// or memory://<bus>/", str(error))

    def test_empty_user_password_or_port_is_named_as_such(self):
        for url in ('memory://:@/', 'memory://@x/', 'memory://x:/',
                    'memory://x:0/', 'memory://x:abc/'):
            self.assertRefused(
                f"{url!r} is malformed: a memory:// URL names a bus only, "
                f"without user, password or port", url)
