"""An extra row: cachetools.TTLCache, the expiry oslo.messaging's AMQP
driver uses for the ids of messages it has seen (amqpdriver's
``cachetools.TTLCache(SIZE, TTL)``, with the default timer)."""

import cachetools

from tests.matrix import base


class TestTTLCache(base.MatrixTestCase):

    def test_entries_expire_after_their_ttl(self):
        # NOTE(matrix): a message id cached at 0 and again at 4 P, with a
        # TTL of 2.5 P, looked up every P (on the period, until(k)): seen
        # at 0..2 P, gone at 3 P, seen at 4..6 P, gone at 7..10 P.
        def scenario(run):
            seen = cachetools.TTLCache(maxsize=100, ttl=run.seconds(2.5))
            for k in range(11):
                run.until(k)
                if k in (0, 4):
                    seen['msg-id'] = True
                run.mark('seen' if 'msg-id' in seen else 'gone')
            return len(seen)

        expected = (base.ticks([0, 1, 2], 'seen') + [(3, 'gone')] +
                    base.ticks([4, 5, 6], 'seen') +
                    base.ticks([7, 8, 9, 10], 'gone'))
        self.check(scenario, expected, 0)
