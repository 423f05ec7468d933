"""The transport behaviour suite: memory:// and rabbit:// against RabbitMQ's
measured behaviour, and against each other.

``memory://`` always runs. ``rabbit://`` runs when ``OS_TEST_TRANSPORT_URL``
names a RabbitMQ (``tox -e functional-rabbit``, which boots one); else
those tests skip, saying so. The differential tests run each scenario on
both and fail when they disagree.
"""

import os
import uuid

import testtools

from tests.functional import behaviour


def rabbit_url():
    url = os.environ.get('OS_TEST_TRANSPORT_URL', '')
    return url if url.startswith('rabbit://') else None


class TestBehaviour(testtools.TestCase):
    """One test per (scenario, transport); generated below."""


def _make(name, transport):
    def test(self):
        expected = behaviour.SCENARIOS[name][1]
        if transport == 'memory':
            url = f'memory://behaviour-{uuid.uuid4().hex[:8]}/'
            self.assertEqual(expected, behaviour.run(name, url))
            return
        url = rabbit_url()
        if url is None:
            self.skipTest('no RabbitMQ: OS_TEST_TRANSPORT_URL is not a '
                          'rabbit:// URL (run tox -e functional-rabbit)')
        if transport == 'rabbit':
            self.assertEqual(expected, behaviour.run(name, url))
            return
        memory = behaviour.run(
            name, f'memory://behaviour-{uuid.uuid4().hex[:8]}/')
        self.assertEqual(behaviour.run(name, url), memory,
                         f'memory:// and rabbit:// disagree on {name!r}')
    return test


for _index, _name in enumerate(behaviour.SCENARIOS):
    for _transport in ('memory', 'rabbit', 'differential'):
        _test = _make(_name, _transport)
        _test.__name__ = f'test_{_index:02d}_{_transport}'
        _test.__doc__ = f'{_name} ({_transport})'
        setattr(TestBehaviour, _test.__name__, _test)
