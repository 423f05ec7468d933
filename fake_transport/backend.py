"""Select oslo.service's threading backend before oslo.messaging loads.

``import oslo_messaging`` imports ``oslo_service.service``, which asks for a
backend at import time and gets eventlet unless one was chosen first. This
module makes that choice when imported, and must therefore be imported
before ``oslo_messaging``; the package ``__init__`` imports it first.
"""

from __future__ import annotations

import sys
import warnings

from oslo_service import backend

# NOTE(backend): futurist imports eventlet whenever it is installed (and
# oslo.service depends on it), and oslo.messaging imports oslo.utils'
# eventletutils; both warn on import, on every run of a user's suite,
# about something neither the user nor this library uses. Import them
# once here with those two warnings silenced, nothing else.
with warnings.catch_warnings():
    warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
    warnings.filterwarnings('ignore',
                            message='eventletutils module is deprecated',
                            category=DeprecationWarning)
    import futurist  # noqa: F401
    from oslo_utils import eventletutils  # noqa: F401

__all__ = ['EVENTLET_BACKEND_MESSAGE', 'eventlet_backend_selected',
           'prefer_threading_backend', 'refuse_eventlet']

EVENTLET_BACKEND_MESSAGE = (
    "oslo.service's eventlet backend is selected: import nova_fixtures (or "
    "fake_transport) before oslo_messaging and oslo_service, for instance "
    "in your tests package's __init__.py")


def refuse_eventlet(error: type[Exception], what: str) -> None:
    """Raise ``error`` if eventlet patched this interpreter, or if
    oslo.service runs on its eventlet backend."""
    patcher = sys.modules.get('eventlet.patcher')
    if patcher is not None and getattr(patcher, 'already_patched', None):
        raise error(f"{what} can't run under an eventlet-patched "
                    f"interpreter")
    if eventlet_backend_selected():
        raise error(EVENTLET_BACKEND_MESSAGE)


def eventlet_backend_selected() -> bool:
    """Whether oslo.service already runs on its eventlet backend."""
    return bool(backend.get_backend_type() == backend.BackendType.EVENTLET)


def prefer_threading_backend() -> backend.BackendType:
    """Choose the threading backend unless a backend was already chosen.

    Needs ``oslo.service[threading]`` (cotyledon).

    :returns: the backend in force afterwards.
    """
    if backend.get_backend_type() is None:
        backend.init_backend(backend.BackendType.THREADING)
    current = backend.get_backend_type()
    assert current is not None
    return current


prefer_threading_backend()
