"""The pytest plugin's side of pytest-timeout: its timeouts get a hang
report, with either method.

* ``timeout_method=signal``: pytest-timeout's SIGALRM handler fails the
  test in the main thread (``Failed: Timeout (>2.0s) from
  pytest-timeout.``; 1.x said ``Timeout >2.0s``). `timed_out` tells that
  failure apart; the plugin adds the report to the test's report, taken
  before the teardown, while the other threads are still stuck.
* ``timeout_method=thread``: pytest-timeout's timer thread dumps the
  stacks and ends the process with ``os._exit(1)``: no report, no
  teardown ever comes. `set_timer` implements pytest-timeout's hook
  ``pytest_timeout_set_timer`` (2.1 on) for the tests that use the
  library: the same timer, whose expiry writes the hang report to the
  terminal, then runs pytest-timeout's own ``timeout_timer``.
"""

from __future__ import annotations

import re
import threading
import traceback
from typing import Any, Callable

import pytest

__all__ = ['set_timer', 'timed_out']

# NOTE(pytest-timeout): "Timeout (>2.0s) from pytest-timeout." (2.x,
# PYTEST_FAILURE_MESSAGE) or "Timeout >2.0s" (1.x).
_FAILURE = re.compile(r'Timeout (\(>[^)]*s\) from pytest-timeout\.|>)')


def timed_out(excinfo: pytest.ExceptionInfo[BaseException]) -> bool:
    """Whether ``excinfo`` is pytest-timeout's failure of a test
    (``timeout_method=signal``)."""
    return excinfo.errisinstance(pytest.fail.Exception) and \
        _FAILURE.match(str(excinfo.value)) is not None


def set_timer(item: pytest.Item, settings: Any,
              report: Callable[[], str]) -> bool | None:
    """pytest-timeout's thread-method timer, writing ``report()`` first.

    :returns: True once the timer is set (pytest-timeout's hook then sets
        none); None for the signal method, left to pytest-timeout.
    """
    if settings.method == 'signal' and \
            threading.current_thread() is threading.main_thread():
        return None
    # NOTE(pytest-timeout): imported here: this hook only runs when it is
    # loaded (it declares the hook).
    import pytest_timeout

    def expire() -> None:
        if settings.disable_debugger_detection or \
                not pytest_timeout.is_debugging():
            _write_report(item, report)
        pytest_timeout.timeout_timer(item, settings)

    # NOTE(pytest-timeout): as pytest_timeout.pytest_timeout_set_timer
    # does (2.1 to 2.4), with expire() in place of timeout_timer.
    timer = threading.Timer(settings.timeout, expire)
    timer.name = f'pytest_timeout {item.nodeid}'

    def cancel() -> None:
        timer.cancel()
        timer.join()

    item.cancel_timeout = cancel  # type: ignore[attr-defined]
    timer.start()
    return True


def _write_report(item: pytest.Item, report: Callable[[], str]) -> None:
    """Write the hang report to the terminal, capture suspended (as
    pytest-timeout's ``timeout_timer`` does before its own output)."""
    terminal = item.config.get_terminal_writer()
    try:
        capman = item.config.pluginmanager.getplugin('capturemanager')
        if capman:
            capman.suspend_global_capture(item)
        text = report()
        terminal.sep('+', title=f'nova-fixtures:hang-report {item.nodeid}')
        terminal.write(text + '\n')
    except Exception:
        traceback.print_exc()
    finally:
        terminal.flush()
