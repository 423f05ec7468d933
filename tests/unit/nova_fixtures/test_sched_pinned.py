"""The same seed and options make the same decisions as the scheduler
did before it was split into strategies and a trace (issue 21): the rng
is drawn in the same order, the same trace comes out, the same decisions
and their texts, the same divergence reports."""

import json

import testtools

from tests.unit.nova_fixtures import sched_scenario


class TestPinnedDecisions(testtools.TestCase):

    def test_every_run_decides_as_recorded(self):
        with open(sched_scenario.BASELINE) as f:
            recorded = json.load(f)
        now = sched_scenario.record()
        self.assertEqual(sorted(recorded), sorted(now))
        differ = [label for label in sorted(recorded)
                  if recorded[label] != now[label]]
        self.assertEqual([], differ, {label: (recorded[label], now[label])
                                      for label in differ[:3]})

    def test_the_baseline_covers_every_strategy_and_replay(self):
        with open(sched_scenario.BASELINE) as f:
            recorded = json.load(f)
        kinds = {label.split('/')[0] for label in recorded}
        self.assertEqual(
            {'random', 'pct', 'pct-d2-k20', 'pct-d3-k40', 'pct-d5-k60',
             'pct-d1', 'forced-all', 'forced-half', 'expected', 'diverged',
             'short'}, kinds)
        # NOTE(tests): the runs preempt, and differ from seed to seed.
        traces = {recorded[f'random/{seed}']['trace']
                  for seed in sched_scenario.SEEDS}
        self.assertEqual(len(sched_scenario.SEEDS), len(traces))
        self.assertTrue(all(recorded[f'pct-d3-k40/{seed}']['preemptions']
                            for seed in sched_scenario.SEEDS))
