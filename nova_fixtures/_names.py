"""The name code gives an object: ``Engine._lock``, ``compute_lock``."""

from __future__ import annotations

import gc
import sys
import threading
import types
from typing import Any

__all__ = ['bound_name']

# NOTE(names): objects that hold a lock for someone else: name the holder
# (an RLock's inner lock is named after the RLock, and so on).
_WRAPPERS = tuple(t for t in (
    getattr(threading, '_PyRLock', None), getattr(threading, '_RLock', None),
    threading.Condition, threading.Semaphore, threading.BoundedSemaphore,
    threading.Event) if isinstance(t, type))


def bound_name(obj: Any, depth: int = 0) -> str | None:
    """How code refers to ``obj``: ``Class.attribute``, ``module.name`` or
    a local variable's name; None if nothing names it.

    Walks ``gc.get_referrers``: slow, for reports only.
    """
    if depth > 3:
        return None
    for ref in gc.get_referrers(obj):
        if isinstance(ref, types.FrameType):
            for key, value in ref.f_locals.items():
                if value is obj:
                    return key
        elif isinstance(ref, dict):
            name = _key_of(ref, obj)
            if name is None:
                continue
            module = ref.get('__name__')
            if isinstance(module, str) and sys.modules.get(module) is not \
                    None and vars(sys.modules[module]) is ref:
                return f'{module}.{name}'
            for owner in gc.get_referrers(ref):
                if getattr(owner, '__dict__', None) is ref:
                    return _attribute(owner, name, depth)
        elif hasattr(ref, '__dict__') and not isinstance(
                ref, (type, types.ModuleType, types.FunctionType)):
            name = _key_of(vars(ref), obj)
            if name is not None:
                return _attribute(ref, name, depth)
    return _local_name(obj) if depth == 0 else None


def _local_name(obj: Any) -> str | None:
    """A variable of a running function that holds ``obj``."""
    for top in sys._current_frames().values():
        frame: types.FrameType | None = top
        while frame is not None:
            if frame.f_code.co_filename != __file__:
                for key, value in frame.f_locals.items():
                    if value is obj:
                        return key
            frame = frame.f_back
    return None


def _key_of(namespace: dict[str, Any], obj: Any) -> str | None:
    for key, value in list(namespace.items()):
        if value is obj and isinstance(key, str):
            return key
    return None


def _attribute(owner: Any, name: str, depth: int) -> str:
    if isinstance(owner, _WRAPPERS):
        outer = bound_name(owner, depth + 1)
        if outer is not None:
            return outer
    return f'{type(owner).__name__}.{name}'
