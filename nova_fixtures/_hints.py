"""How a user changes a fixture's setting, said the way the test set the
fixture up: a marker under the pytest plugin, else the fixture's argument
(and `TestCase`'s attribute).

The pytest plugin marks each fixture it sets up with its marker
(`set_up_by_marker`); an error message that tells how to change a setting
asks `how_to_set`.
"""

from __future__ import annotations

__all__ = ['how_to_set', 'set_up_by_marker']

_MARKER = '_nova_fixtures_marker'


def set_up_by_marker(fixture: object, marker: str) -> None:
    """``fixture`` is set up by the pytest plugin, with the arguments of
    ``@pytest.mark.<marker>(...)``."""
    setattr(fixture, _MARKER, marker)


def how_to_set(fixture: object, argument: str, otherwise: str) -> str:
    """``@pytest.mark.<marker>(<argument>=...)`` for a fixture the pytest
    plugin set up, else ``otherwise`` (``ClockFixture(max_virtual=...) or
    TestCase.CLOCK_OPTIONS``)."""
    marker = getattr(fixture, _MARKER, None)
    if marker is None:
        return otherwise
    return f'@pytest.mark.{marker}({argument}=...)'
