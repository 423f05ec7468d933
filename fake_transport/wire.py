"""JSON round trip of messages, contexts and replies, as the AMQP drivers do.

Every payload crosses the bus as a JSON string, so a server never shares an
object with its caller: tuples arrive as lists, ``datetime`` as an ISO string,
integer keys as strings (``oslo_serialization.jsonutils`` rules, the same the
rabbit driver applies).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

from oslo_serialization import jsonutils

__all__ = ['NotSerializable', 'dumps', 'loads']

_CONTAINERS = (dict, list, tuple, set, frozenset)
_KEY_TYPES = (str, int, float, bool, type(None))


def _int_digits_limit() -> int:
    return int(getattr(sys, 'get_int_max_str_digits', lambda: 0)())


def _show(value: Any) -> str:
    """``repr(value)``, or a description when repr itself fails."""
    try:
        return repr(value)
    except Exception:
        if isinstance(value, int):
            # NOTE(wire): Python refuses to turn an int of more digits than
            # sys.get_int_max_str_digits() into text; so does JSON.
            return f'an int of more than {_int_digits_limit()} digits'
        return f'<{type(value).__name__} object whose repr() failed>'


class NotSerializable(ValueError):
    """A message, context or reply holds a value JSON can't carry.

    A ``ValueError``, as the rabbit driver raises for the same payload, with a
    message naming the offending key.

    :ivar path: where the value sits, such as ``args['spec']['obj']``.
    :ivar value: the value (for a bad key, the key; for a circular
        reference, the container met again).
    :ivar reason: what is wrong with it, the end of the message.
    """

    def __init__(self, what: str, path: str, value: Any,
                 reason: str | None = None) -> None:
        self.path = path
        self.value = value
        if reason is None:
            reason = f'{_show(value)} (type {type(value).__name__})'
        self.reason = reason
        super().__init__(f"{what} {path} is not JSON serializable: {reason}")


@dataclasses.dataclass
class _Problem:
    path: str
    value: Any
    reason: str | None = None


def _bad_key(key: Any) -> str | None:
    """Say why JSON can't carry ``key`` as an object key, or None."""
    if not isinstance(key, _KEY_TYPES):
        return (f'key {_show(key)} (type {type(key).__name__}) is not a '
                f'str, int, float, bool or None')
    if isinstance(key, int) and not isinstance(key, bool):
        try:
            repr(key)
        except ValueError:
            return f'a key is {_show(key)}'
    return None


def _bad_leaf(value: Any) -> bool:
    try:
        jsonutils.dumps(value)
    except (TypeError, ValueError, RecursionError):
        return True
    return False


def _find_unserializable(obj: Any, root: str,
                         too_deep: bool) -> _Problem | None:
    """Return the first value ``jsonutils`` refuses, in encoding order.

    Walks without recursion, so a payload nested too deeply for the JSON
    encoder does not exhaust the stack here too. Looks for, in order: a key
    JSON can't carry, a container that contains itself, a value
    ``jsonutils`` refuses; then, if ``too_deep``, the deepest nesting.
    """
    # NOTE(wire): a stack of (value, path, depth, top, top_depth, leaving);
    # ``top`` is the entry right under the root that holds the value, the
    # one a deep-nesting error names.
    stack: list[tuple[Any, str, int, str, int, bool]] = [
        (obj, root, 0, root, 0, False)]
    on_path: dict[int, str] = {}
    deepest = (0, root)
    while stack:
        value, path, depth, top, top_depth, leaving = stack.pop()
        if leaving:
            del on_path[id(value)]
            continue
        if depth == 1:
            top, top_depth = path, 1
        if not isinstance(value, _CONTAINERS):
            if _bad_leaf(value):
                return _Problem(path, value)
            continue
        if id(value) in on_path:
            return _Problem(
                path, value,
                f'it contains itself: it is '
                f'{on_path[id(value)] or "(the whole payload)"} again (a '
                f'circular reference)')
        levels = depth - top_depth + 1
        if levels > deepest[0]:
            deepest = (levels, top)
        on_path[id(value)] = path
        stack.append((value, path, depth, top, top_depth, True))
        if isinstance(value, dict):
            children = []
            for key, item in value.items():
                why = _bad_key(key)
                if why is not None:
                    return _Problem(path, key, why)
                children.append((item, f'{path}[{key!r}]'))
        else:
            children = [(item, f'{path}[{index}]')
                        for index, item in enumerate(value)]
        for item, item_path in reversed(children):
            stack.append((item, item_path, depth + 1, top, top_depth,
                          False))
    if too_deep:
        levels, top = deepest
        return _Problem(
            top, None,
            f'it nests {levels} levels deep, deeper than the JSON encoder '
            f'can go')
    return None


# NOTE(wire): what jsonutils.dumps() does, without building an encoder per
# call; this is on the path of every message.
_encode = json.JSONEncoder(default=jsonutils.to_primitive).encode


def dumps(obj: Any, what: str = 'Message argument', root: str = '') -> str:
    """Serialize ``obj`` to JSON or raise `NotSerializable` naming the key.

    Refused: a value ``jsonutils`` can't convert, a key other than a str,
    int, float, bool or None, an int too long to write out, a container
    that contains itself, and nesting deeper than the encoder can go.

    :param what: how the error names the payload (``'Message argument'``,
        ``'Context key'``, ``'Reply value'``).
    :param root: the name the error path starts from.
    """
    try:
        return _encode(obj)
    except (TypeError, ValueError, RecursionError) as exc:
        error = exc
    found = _find_unserializable(obj, root,
                                 isinstance(error, RecursionError))
    if found is None:
        # NOTE(wire): not expected; still a NotSerializable, so a caller
        # catching the documented error catches this one too.
        found = _Problem(root, obj, f'{type(error).__name__}: {error}')
    raise NotSerializable(what, found.path or '(the whole payload)',
                          found.value, found.reason) from None


def loads(text: str) -> Any:
    """Deserialize a JSON string made by `dumps`."""
    return json.loads(text)
