"""JSON round trip of messages, contexts and replies, as the AMQP drivers do.

Every payload crosses the bus as a JSON string, so a server never shares an
object with its caller: tuples arrive as lists, ``datetime`` as an ISO string,
integer keys as strings (``oslo_serialization.jsonutils`` rules, the same the
rabbit driver applies).
"""

from __future__ import annotations

import json
from typing import Any

from oslo_serialization import jsonutils

__all__ = ['NotSerializable', 'dumps', 'loads']


class NotSerializable(ValueError):
    """A message, context or reply holds a value JSON can't carry.

    A ``ValueError``, as the rabbit driver raises for the same payload, with a
    message naming the offending key.

    :ivar path: where the value sits, such as ``args['spec']['obj']``.
    """

    def __init__(self, what: str, path: str, value: Any) -> None:
        self.path = path
        self.value = value
        super().__init__(
            f"{what} {path} is not JSON serializable: {value!r} "
            f"(type {type(value).__name__})")


def _find_unserializable(obj: Any, path: str) -> tuple[str, Any] | None:
    """Return (path, value) of the first value ``jsonutils`` refuses."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            found = _find_unserializable(value, f'{path}[{key!r}]')
            if found:
                return found
        return None
    if isinstance(obj, (list, tuple, set, frozenset)):
        for index, value in enumerate(obj):
            found = _find_unserializable(value, f'{path}[{index}]')
            if found:
                return found
        return None
    try:
        jsonutils.dumps(obj)
    except (TypeError, ValueError):
        return path, obj
    return None


# NOTE(wire): what jsonutils.dumps() does, without building an encoder per
# call; this is on the path of every message.
_encode = json.JSONEncoder(default=jsonutils.to_primitive).encode


def dumps(obj: Any, what: str = 'Message argument', root: str = '') -> str:
    """Serialize ``obj`` to JSON or raise `NotSerializable` naming the key.

    :param what: how the error names the payload (``'Message argument'``,
        ``'Context key'``, ``'Reply value'``).
    :param root: the name the error path starts from.
    """
    try:
        return _encode(obj)
    except (TypeError, ValueError):
        found = _find_unserializable(obj, root)
        if found is None:
            raise
        path, value = found
        raise NotSerializable(what, path or '(the whole payload)', value) \
            from None


def loads(text: str) -> Any:
    """Deserialize a JSON string made by `dumps`."""
    return json.loads(text)
