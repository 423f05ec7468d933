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
(`check`), for `nova_fixtures.schedule` and the hunt alike, and written as
one token (`token`, `parse`): ``pct-d3-k16-4`` is PCT with depth 3 over 16
steps, seed 4; ``random-4`` is the random strategy, seed 4 (it uses no
depth or steps). The hunt prints a token; ``--replay``, `ScheduleFixture`,
``TestCase.SCHEDULE_SEED`` and ``nova_fixtures.run --schedule`` take one
where they take a seed, so a seed never stands for another schedule than
the one that failed.
"""

from __future__ import annotations

import random
import re
from typing import Any, Mapping

from nova_fixtures import _trace

__all__ = ['DEFAULTS', 'ForcedStrategy', 'LEAST', 'MOST', 'PCTStrategy',
           'RandomStrategy', 'STRATEGIES', 'Strategy', 'check', 'make',
           'parse', 'resolve', 'token']

STRATEGIES = ('random', 'pct')

# NOTE(strategies): the least value of each whole-number option.
LEAST = {'seed': 0, 'depth': 1, 'steps': 1}
# NOTE(strategies): PCT draws depth - 1 change points up front: a bound
# keeps a mistyped depth from costing seconds and gigabytes per run (PCT
# finds bugs of depth 1 to 5; 100 is far beyond any use).
MOST = {'depth': 100}
# NOTE(strategies): what a schedule given only a seed uses.
DEFAULTS: dict[str, Any] = {'strategy': 'pct', 'depth': 3, 'steps': 2000}
_TOKEN = re.compile(r'(?:pct-d(\d+)-k(\d+)|random)-(\d+)')


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
        if name in MOST and value > MOST[name]:
            raise ValueError(f'{name} must be a whole number from {least} '
                             f'to {MOST[name]}, got {value!r}')
    strategy = options.get('strategy', 'pct')
    if strategy not in STRATEGIES:
        raise ValueError(f'strategy must be one of '
                         f'{", ".join(map(repr, STRATEGIES))}, got '
                         f'{strategy!r}')


def token(seed: int, strategy: str = 'pct', depth: int = 3,
          steps: int = 2000) -> str:
    """The one word that names a whole schedule: ``pct-d3-k16-4``,
    ``random-4``."""
    if strategy == 'random':
        return f'random-{seed}'
    return f'pct-d{depth}-k{steps}-{seed}'


def parse(text: str) -> dict[str, Any]:
    """The options a token (`token`) or a bare seed (``'4'``) names: a
    token gives ``seed``, ``strategy``, ``depth`` and ``steps``; a bare
    seed gives ``seed`` only.

    :raises ValueError: ``text`` is neither.
    """
    text = text.strip()
    if text.isascii() and text.isdigit():
        return {'seed': int(text)}
    match = _TOKEN.fullmatch(text)
    if match is None:
        raise ValueError(
            f'schedule {text!r} is neither a seed nor a schedule token: '
            f'write a whole number >= 0 (4) or a token the hunt printed '
            f'(pct-d3-k16-4, random-4)')
    depth, steps, seed = match.groups()
    if depth is None:
        return {'seed': int(seed), 'strategy': 'random'}
    return {'seed': int(seed), 'strategy': 'pct', 'depth': int(depth),
            'steps': int(steps)}


def resolve(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with a token in ``seed`` spelled out (`parse`).

    :raises ValueError: the token is not one, or ``options`` also give a
        ``strategy``, ``depth`` or ``steps`` other than the token's.
    """
    seed = options.get('seed')
    if not isinstance(seed, str):
        return dict(options)
    named = parse(seed)
    resolved = dict(options)
    for name, value in named.items():
        given = options.get(name)
        if name != 'seed' and given is not None and given != value:
            raise ValueError(
                f'schedule {seed!r} names its {name} ({value!r}); '
                f'{name}={given!r} asks for another schedule: give one or '
                f'the other')
        resolved[name] = value
    return resolved
