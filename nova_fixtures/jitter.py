"""PeriodicJitterFixture: oslo.service's periodic-task jitter, off or seeded.
"""

from __future__ import annotations

import random

import fixtures

__all__ = ['PeriodicJitterFixture']


class _NoJitter(random.Random):
    """A ``random`` whose ``random()`` is always 0: no jitter."""

    def random(self) -> float:
        return 0.0


class PeriodicJitterFixture(fixtures.Fixture):
    """Switch off, or seed, the jitter of oslo.service's periodic tasks.

    oslo.service delays each periodic task with a spacing of 20 s or more by
    up to 5% at random (``_nearest_boundary``), so a 600 s poll runs at 613
    s in one run and 621 s in the next. Caution: patches the ``random``
    that ``oslo_service.periodic_task`` uses, process-wide, until cleanup.

    :param seed: ``None`` for no jitter (every task runs on its spacing),
        or an int: the same jitter on every run.

    Example::

        self.useFixture(PeriodicJitterFixture())          # no jitter
        self.useFixture(PeriodicJitterFixture(seed=42))   # repeatable
    """

    def __init__(self, seed: int | None = None) -> None:
        super().__init__()
        if seed is not None and (isinstance(seed, bool) or
                                 not isinstance(seed, int)):
            raise ValueError(f'seed must be an int or None, got {seed!r}')
        self.seed = seed

    def _setUp(self) -> None:
        source = _NoJitter() if self.seed is None else random.Random(
            self.seed)
        self.useFixture(fixtures.MonkeyPatch(
            'oslo_service.periodic_task.random', source))
