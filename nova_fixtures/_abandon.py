"""The test failed in a way that leaves its threads stuck: its cleanups
wait for none of them.

One state per process (one test runs at a time in a process). A timeout
(pytest-timeout through the pytest plugin, ``OS_TEST_TIMEOUT`` through
`TestCase`) or the clock's virtual time budget (`ClockFixture`) ends a test
while its threads are still blocked: in an RPC call, on a timer past the
budget. `abandon` then ends every RPC call still waiting for a reply on a
``memory://`` bus (`fake_transport.Broker.end_calls`), so the handlers
blocked in one unwind now rather than when its timeout runs out, and marks
the test abandoned: `ThreadLeakFixture` does not wait its grace out for the
threads still running, and does not fail the test a second time for them
(it logs them). A new test starts unmarked (`clear`).
"""

from __future__ import annotations

from fake_transport import registry

__all__ = ['abandon', 'clear', 'reason']

_reason: str | None = None


def abandon(why: str) -> None:
    """Mark the running test abandoned, because ``why`` (a phrase: ``the
    test timed out``), and end the RPC calls waiting on every bus.

    Call it once the hang report, if any, is taken: it wakes threads.
    """
    global _reason
    if _reason is None:
        _reason = why
    for broker in registry.brokers():
        broker.end_calls(f'{why}; the test is over')


def reason() -> str | None:
    """Why the running test was abandoned, or None."""
    return _reason


def clear() -> None:
    """A new test starts: not abandoned."""
    global _reason
    _reason = None
