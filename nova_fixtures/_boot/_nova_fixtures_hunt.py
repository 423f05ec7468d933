"""Start of the hunt's own process: the suite's modules before the library.

``python -m nova_fixtures.hunt`` checks its options, then runs
``python -c 'import _nova_fixtures_hunt'`` with this directory first on
``PYTHONPATH`` and the ``nova_fixtures.run`` variables its options name
(so ``sitecustomize`` here prepares the Python as the run entry point
does for each of its processes). This module imports the standard library
only. It imports the module of the test ``NOVA_FIXTURES_HUNT_TEST`` names
first, and with it the suite's own bootstrap (Nova's refuses to start if
eventlet, which futurist imports, came first), then hands over to
`nova_fixtures.hunt`. A pytest node id is not imported here: pytest loads
the library's plugin before any test module anyway.
"""

from __future__ import annotations

import os
import sys
import unittest


def _import_suite(test_id: str) -> None:
    if '::' in test_id or test_id.endswith('.py') or '/' in test_id:
        return
    if '' not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        unittest.TestLoader().loadTestsFromName(test_id)
    except Exception:  # noqa: S110
        # NOTE(hunt_boot): nova_fixtures.hunt loads it again, and says
        # what is wrong with it.
        pass


def main() -> None:
    _import_suite(os.environ.get('NOVA_FIXTURES_HUNT_TEST', ''))
    from nova_fixtures import hunt
    sys.exit(hunt.main(sys.argv[1:]))


main()
