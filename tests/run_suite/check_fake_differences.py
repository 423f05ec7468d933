"""A suite that leans on fake: handing an endpoint's exception through.

Run by tests/unit/nova_fixtures/test_run.py through ``python -m
nova_fixtures.run --transport memory`` (with and without
``--fake-compat``): on fake: it passes; on rabbit it would not, as
``oslo_messaging.exceptions`` is not in the transport's
``allowed_remote_exmods``.
"""

from oslo_config import cfg
import oslo_messaging
from oslo_messaging import conffixture
import testtools


class Central:

    def create_zone(self, ctxt, name):
        raise oslo_messaging.MessagingTimeout(f'central timed out on {name}')


class TestApi(testtools.TestCase):

    def test_a_timeout_in_central_answers_504(self):
        conf = cfg.ConfigOpts()
        self.useFixture(conffixture.ConfFixture(conf))
        transport = oslo_messaging.get_rpc_transport(conf, url='fake:/')
        self.addCleanup(transport.cleanup)
        target = oslo_messaging.Target(topic='central', server='c1')
        server = oslo_messaging.get_rpc_server(transport, target, [Central()])
        server.start()
        self.addCleanup(server.wait)
        self.addCleanup(server.stop)
        client = oslo_messaging.get_rpc_client(transport, target)
        try:
            client.call({}, 'create_zone', name='example.org.')
            status = 201
        except oslo_messaging.MessagingTimeout:
            status = 504
        except Exception:
            status = 500
        self.assertEqual(504, status)
