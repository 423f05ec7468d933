"""The differential matrix: periodic and timeout mechanisms, real vs virtual.

Each test runs one scenario of one mechanism twice: in real time with a
short period, then inside a `nova_fixtures.ClockFixture` with a service's
period, and asserts that both runs give the same runs, at the same offsets
(in periods), with the same outcome (see `tests.matrix.base`).

The real runs take seconds, so ``stestr run`` over ``tests/`` (the unit
suite) loads nothing from here: ``tox -e matrix`` sets
``NOVA_FIXTURES_MATRIX=1`` and runs this package as its own test path.
"""

import importlib
import os
import pkgutil
import unittest


def load_tests(loader, standard_tests, pattern):
    suite = unittest.TestSuite()
    if not os.environ.get('NOVA_FIXTURES_MATRIX'):
        return suite
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith('test_'):
            module = importlib.import_module(f'{__name__}.{info.name}')
            suite.addTests(loader.loadTestsFromModule(module))
    return suite
