"""What a test relied on that the ``fake:`` driver does and rabbit doesn't.

Under `FakeRedirectFixture` a suite written for ``fake:`` gets rabbit's
behaviour. Each time a test meets a case where the two differ, and its
outcome depends on which it gets, that is a `Difference`: a line per (test,
behaviour, what rabbit does), recorded process-wide (`since`), shown as the
test's detail ``fake-transport:differences`` and in pytest's report, and
appended to the file `FILE_VAR` names, from which ``python -m
nova_fixtures.run`` prints them at the end of the run. Each is a bug
waiting in production: the suite passes on ``fake:`` only because ``fake:``
hides it.

With fake-compat (``--fake-compat``, ``NOVA_FIXTURES_FAKE_COMPAT=1``, or
``FakeRedirectFixture(fake_compat=True)``) the test gets ``fake:``'s
behaviour for each case below, and the difference is still recorded, so a
suite can adopt the library first and fix the list later. Without it, the
error the test gets names the case and the switch.

The cases:

* **exception type**: an endpoint raises an exception whose module is not
  in the calling transport's ``allowed_remote_exmods``. ``fake:`` raises
  the very exception in the caller; rabbit (and ``memory://``) raises
  ``RemoteError``. With fake-compat the caller gets the exception's own
  type (a ``<class>_Remote`` subclass, as oslo.messaging rebuilds an
  allowed one), so ``except MessagingTimeout`` catches it.
"""

from __future__ import annotations

import dataclasses
import os
import threading

__all__ = ['COMPAT_VAR', 'Difference', 'FILE_VAR', 'compat_from_environ',
           'count', 'read_report', 'record', 'render', 'since']

#: Set to ``1`` to keep ``fake:``'s behaviour for every listed case.
COMPAT_VAR = 'NOVA_FIXTURES_FAKE_COMPAT'
#: A file each recorded difference is appended to, a line each.
FILE_VAR = 'NOVA_FIXTURES_FAKE_DIFFERENCES'


@dataclasses.dataclass(frozen=True)
class Difference:
    """One place a test relied on ``fake:``.

    :ivar test: the test's id.
    :ivar behaviour: what ``fake:`` does there.
    :ivar rabbit: what rabbit does instead.
    """

    test: str
    behaviour: str
    rabbit: str

    def line(self) -> str:
        return f'{self.test}: {self.behaviour}; rabbit: {self.rabbit}'


_lock = threading.Lock()
_recorded: list[Difference] = []


def compat_from_environ() -> bool:
    """Whether `COMPAT_VAR` asks for fake-compat."""
    value = os.environ.get(COMPAT_VAR, '').strip().lower()
    return value in ('1', 'true', 'yes', 'on')


def record(difference: Difference) -> None:
    """Keep ``difference``, and append it to `FILE_VAR`'s file if set."""
    with _lock:
        _recorded.append(difference)
        path = os.environ.get(FILE_VAR)
        if path:
            # NOTE(differences): one short write per line, in append mode:
            # the workers of one run share the file.
            with open(path, 'a', encoding='utf-8') as report:
                report.write(difference.line().replace('\n', ' ') + '\n')


def count() -> int:
    """How many differences were recorded in this process."""
    with _lock:
        return len(_recorded)


def since(start: int) -> list[Difference]:
    """The differences recorded after the first ``start``."""
    with _lock:
        return _recorded[start:]


def read_report(path: str) -> list[str]:
    """The distinct lines of a `FILE_VAR` file, in first-seen order."""
    try:
        with open(path, encoding='utf-8') as report:
            lines = report.read().splitlines()
    except FileNotFoundError:
        return []
    return list(dict.fromkeys(line for line in lines if line))


def render(lines: list[str]) -> str:
    """The end-of-run report of ``lines`` (empty: nothing to say)."""
    if not lines:
        return ''
    return '\n'.join(
        [f'fake: differences: {len(lines)} place(s) where a test relied on '
         f'the fake: driver doing what rabbit does not (with '
         f'--fake-compat, {COMPAT_VAR}=1, the tests get fake:\'s '
         f'behaviour):'] + [f'  {line}' for line in lines])
