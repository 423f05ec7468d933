"""The strategies of schedule mode, without a scheduler."""

import random

import testtools

from nova_fixtures import _strategies


def key(tid=0, kind='acquire', what='here.py:1', n=0):
    return (tid, kind, what, n)


class TestRandom(testtools.TestCase):

    def test_draws_one_number_per_member_then_one_per_pick(self):
        strategy = _strategies.RandomStrategy(7)
        for tid in range(3):
            strategy.admit(tid)
        picks = [strategy.pick([0, 1, 2], 0, key(), i) for i in range(1, 9)]
        rng = random.Random('random:7')
        for _ in range(3):
            rng.random()
        self.assertEqual([rng.randrange(3) for _ in range(8)], picks)
        self.assertEqual('random', strategy.name)


class TestPCT(testtools.TestCase):

    def test_change_points_are_among_the_first_steps(self):
        for seed in range(20):
            strategy = _strategies.PCTStrategy(seed, depth=4, steps=10)
            self.assertEqual([1, 2, 3],
                             sorted(strategy.change_points.values()))
            self.assertTrue(set(strategy.change_points) <= set(range(1, 11)))
        self.assertEqual(
            {}, _strategies.PCTStrategy(1, depth=1, steps=10).change_points)

    def test_the_highest_priority_runs_until_a_change_point(self):
        strategy = _strategies.PCTStrategy(3, depth=2, steps=5)
        for tid in range(3):
            strategy.admit(tid)
        [point] = strategy.change_points
        top = max(range(3), key=strategy.priority.__getitem__)
        for choice in range(1, point):
            self.assertEqual(top, strategy.pick([0, 1, 2], top,
                                                key(tid=top), choice))
        # NOTE(tests): at the change point the member at the step drops
        # below every other, for good.
        after = strategy.pick([0, 1, 2], top, key(tid=top), point)
        self.assertNotEqual(top, after)
        self.assertEqual(-1, strategy.priority[top])
        self.assertEqual(after, strategy.pick([0, 1, 2], after,
                                              key(tid=after), point + 1))

    def test_a_step_nobody_held_does_not_lower_anyone(self):
        strategy = _strategies.PCTStrategy(3, depth=2, steps=1)
        for tid in range(2):
            strategy.admit(tid)
        before = dict(strategy.priority)
        strategy.pick([0, 1], 0, key(tid=None, kind='wake', what=''), 1)
        self.assertEqual(before, strategy.priority)


class TestForced(testtools.TestCase):

    def test_the_forced_member_runs_else_the_default(self):
        strategy = _strategies.ForcedStrategy({key(n=1): 2})
        self.assertEqual(2, strategy.pick([0, 1, 2], 0, key(n=1), 5))
        self.assertEqual(0, strategy.pick([0, 1, 2], 0, key(n=0), 5))
        # NOTE(tests): a forced member that can't run: the default.
        self.assertEqual(1, strategy.pick([0, 1], 1, key(n=1), 5))


class TestMakeAndCheck(testtools.TestCase):

    def test_make(self):
        self.assertIsInstance(_strategies.make(1, 'random'),
                              _strategies.RandomStrategy)
        pct = _strategies.make(1, 'pct', depth=2, steps=9)
        self.assertIsInstance(pct, _strategies.PCTStrategy)
        self.assertEqual(1, len(pct.change_points))
        forced = _strategies.make(1, 'random', forced={key(): 1})
        self.assertIsInstance(forced, _strategies.ForcedStrategy)
        self.assertRaises(ValueError, _strategies.make, 1, 'fifo')

    def test_check(self):
        _strategies.check({'seed': 0, 'strategy': 'random', 'depth': 1,
                           'steps': 1, 'other': object()})
        for options, text in [
                ({'seed': -1}, 'seed must be a whole number >= 0, got -1'),
                ({'depth': 1.5}, 'depth must be a whole number >= 1, got '
                                 '1.5'),
                ({'steps': False}, 'steps must be a whole number >= 1, got '
                                   'False'),
                ({'strategy': 'fifo'},
                 "strategy must be one of 'random', 'pct', got 'fifo'")]:
            error = self.assertRaises(ValueError, _strategies.check,
                                      options)
            self.assertEqual(text, str(error))
