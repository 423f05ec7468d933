"""How a schedule picks the member thread that runs next.

A `Strategy` is asked at each step with a choice (more than one member
runnable) and answers with one of them; the scheduler
(`nova_fixtures._sched`) does the rest. Three:

* `RandomStrategy`: a uniform pick;
* `PCTStrategy`: probabilistic concurrency testing (Burckhardt et al.,
  ASPLOS 2010): random priorities, the highest runnable one runs, and at
  ``depth - 1`` of the first ``steps`` choices the running member drops
  below every other;
* `ForcedStrategy`: the shrinker's: the given decisions, every other step
  keeping the running member (as a non-preemptive scheduler would).

A seeded strategy draws from its own generator, seeded with
``'<name>:<seed>'``, and in a fixed order (the change points first, then
one number per member as it is numbered, then the picks), so a seed gives
the same decisions in every version that keeps that order:
``tests/unit/nova_fixtures/test_sched_pinned.py`` holds it to it.

The options of a schedule that pick and seed a strategy are checked here
(`check`), for `nova_fixtures.schedule` and the hunt alike.
"""

from __future__ import annotations

import random
from typing import Any, Mapping

from nova_fixtures import _trace

__all__ = ['ForcedStrategy', 'LEAST', 'PCTStrategy', 'RandomStrategy',
           'STRATEGIES', 'Strategy', 'check', 'make']

STRATEGIES = ('random', 'pct')

# NOTE(strategies): the least value of each whole-number option.
LEAST = {'seed': 0, 'depth': 1, 'steps': 1}


class Strategy:
    """Picks who runs at a step with a choice."""

    name = ''

    def admit(self, tid: int) -> None:
        """Member ``tid`` was numbered (it may run from now on)."""

    def pick(self, candidates: list[int], default: int, key: _trace.Key,
             choice: int) -> int:
        """The member to run.

        :param candidates: the runnable members, in order (two or more).
        :param default: whom a non-preemptive scheduler would pick: the
            member at the step if it stays runnable, else the first one.
        :param key: the step: who (None: nobody had the baton) is where.
        :param choice: how many steps with a choice there have been,
            this one included.
        """
        raise NotImplementedError


class RandomStrategy(Strategy):
    """A uniform pick among the runnable members."""

    name = 'random'

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f'random:{seed}')

    def admit(self, tid: int) -> None:
        # NOTE(strategies): one draw per member, unused: the draws PCT
        # makes for priorities, which seeds' runs have always included.
        self.rng.random()

    def pick(self, candidates: list[int], default: int, key: _trace.Key,
             choice: int) -> int:
        return candidates[self.rng.randrange(len(candidates))]


class PCTStrategy(Strategy):
    """Random priorities in (1, 2) per member; the highest runnable one
    runs. At each of ``depth - 1`` change points, drawn among choices
    ``1 .. steps``, the member at the step drops to ``-i`` (the ``i``-th
    change point), below every other."""

    name = 'pct'

    def __init__(self, seed: int, depth: int = 3, steps: int = 2000
                 ) -> None:
        self.rng = random.Random(f'pct:{seed}')
        self.priority: dict[int, float] = {}
        self.change_points: dict[int, int] = {}
        if depth > 1:
            points = self.rng.sample(range(1, max(steps, depth) + 1),
                                     depth - 1)
            self.change_points = {s: i + 1 for i, s in enumerate(points)}

    def admit(self, tid: int) -> None:
        self.priority[tid] = 1 + self.rng.random()

    def pick(self, candidates: list[int], default: int, key: _trace.Key,
             choice: int) -> int:
        tid = key[0]
        if tid is not None and choice in self.change_points:
            self.priority[tid] = -self.change_points[choice]
        return max(candidates, key=self.priority.__getitem__)


class ForcedStrategy(Strategy):
    """At each step a forced decision names (`nova_fixtures._trace.Key`
    to tid), run that member if it can; else the default (shrinking)."""

    name = 'forced'

    def __init__(self, forced: Mapping[_trace.Key, int]) -> None:
        self.forced = forced

    def pick(self, candidates: list[int], default: int, key: _trace.Key,
             choice: int) -> int:
        target = self.forced.get(key)
        if target is not None and target in candidates:
            return target
        return default


def make(seed: int, strategy: str = 'pct', depth: int = 3,
         steps: int = 2000,
         forced: Mapping[_trace.Key, int] | None = None) -> Strategy:
    """The strategy the schedule options name (forced decisions, when
    given, take the place of ``strategy``)."""
    if forced is not None:
        return ForcedStrategy(forced)
    if strategy == 'random':
        return RandomStrategy(seed)
    if strategy == 'pct':
        return PCTStrategy(seed, depth, steps)
    raise ValueError(f'unknown strategy {strategy!r}')


def check(options: Mapping[str, Any]) -> None:
    """Check the ``seed``, ``strategy``, ``depth`` and ``steps`` given in
    ``options`` (the others are not looked at).

    :raises ValueError: one is out of range, naming it.
    """
    for name, least in LEAST.items():
        if name not in options:
            continue
        value = options[name]
        if not isinstance(value, int) or isinstance(value, bool) or \
                value < least:
            raise ValueError(f'{name} must be a whole number >= {least}, '
                             f'got {value!r}')
    strategy = options.get('strategy', 'pct')
    if strategy not in STRATEGIES:
        raise ValueError(f'strategy must be one of '
                         f'{", ".join(map(repr, STRATEGIES))}, got '
                         f'{strategy!r}')
