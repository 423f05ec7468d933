"""Swap every Python-level reference to some objects for others.

The clock swaps the time functions in module namespaces, but code often
took a reference before that: a default argument (futurist's
``PeriodicWorker(now_func=utils.now)``, ``sched.scheduler(timefunc=...)``),
a ``functools.partial``, a class or instance attribute, a closure, a list,
a tuple in any of those. `rebind` finds those holders with the garbage
collector's referrer walk (two passes over the heap: the holders, then the
holders of the tuples and dicts among them) and swaps the reference in
each. One general mechanism, no list of libraries.

Out of reach: references held by C code, in sets, frozensets and dict
keys, in tuples nested two deep, in objects whose ``__dict__`` can't be
written, and in ``keep``. A class attribute gets the replacement wrapped
in ``staticmethod`` (a Python function would bind as a method, a builtin
doesn't).
"""

from __future__ import annotations

import functools
import gc
import sys
import types
from typing import Any, Iterable, Mapping

__all__ = ['rebind']


def rebind(swaps: Mapping[int, tuple[Any, Any]],
           keep: Iterable[Any] = ()) -> int:
    """Swap the references Python containers hold to each real object.

    :param swaps: ``id(real) -> (real, replacement)``.
    :param keep: containers to leave as they are (the caller's own
        records of the real objects).
    :returns: how many references were swapped.
    """
    reals = [real for real, _ in swaps.values()]
    # NOTE(rebind): this call's own records hold the real objects too.
    kept = {id(obj) for obj in keep}
    kept.update(id(pair) for pair in swaps.values())
    kept.update((id(reals), id(swaps)))
    modules = {id(getattr(m, '__dict__', None)) for m in
               list(sys.modules.values())}
    me = sys._getframe()
    holders = gc.get_referrers(*reals)
    kept.add(id(holders))
    swapped = 0
    later: list[Any] = []
    for holder in holders:
        if id(holder) in kept or isinstance(holder, types.FrameType) or \
                holder is me:
            continue
        if isinstance(holder, dict):
            if id(holder) in modules:
                swapped += _swap_in_dict(holder, swaps)
            else:
                # NOTE(rebind): a class's dict must be changed through the
                # class (its attribute cache); told apart in the 2nd pass.
                later.append(holder)
        elif isinstance(holder, tuple):
            later.append(holder)
        else:
            swapped += _swap_in(holder, swaps)
    if later:
        swapped += _second_pass(later, swaps, kept | {id(later)})
    return swapped


def _second_pass(found: list[Any], swaps: Mapping[int, tuple[Any, Any]],
                 kept: set[int]) -> int:
    """Swap in the dicts and tuples ``found``, through their holders."""
    wanted = {id(obj): obj for obj in found}
    class_dicts: dict[int, type] = {}
    swapped = 0
    holders = gc.get_referrers(*found)
    kept.update((id(holders), id(wanted)))
    for holder in holders:
        if id(holder) in kept or isinstance(holder, types.FrameType):
            continue
        if isinstance(holder, type):
            namespace = gc.get_referents(holder.__dict__)
            if namespace and id(namespace[0]) in wanted:
                class_dicts[id(namespace[0])] = holder
            continue
        if isinstance(holder, types.FunctionType):
            defaults = holder.__defaults__
            if defaults is not None and id(defaults) in wanted:
                holder.__defaults__ = _rebuilt(defaults, swaps)
                swapped += 1
            continue
        if isinstance(holder, functools.partial):
            if id(holder.args) in wanted:
                _set_partial(holder, holder.func,
                             _rebuilt(holder.args, swaps))
                swapped += 1
            continue
        if isinstance(holder, (dict, list)):
            for key, value in _items(holder):
                if isinstance(value, tuple) and id(value) in wanted:
                    holder[key] = _rebuilt(value, swaps)
                    swapped += 1
    for obj in found:
        if not isinstance(obj, dict):
            continue
        cls = class_dicts.get(id(obj))
        if cls is None:
            swapped += _swap_in_dict(obj, swaps)
            continue
        for key, value in list(obj.items()):
            pair = swaps.get(id(value))
            if pair is not None and value is pair[0]:
                setattr(cls, key, staticmethod(pair[1]))
                swapped += 1
    return swapped


def _set_partial(partial: Any, func: Any, args: tuple[Any, ...]) -> None:
    partial.__setstate__((func, args, partial.keywords, partial.__dict__))


def _items(container: Any) -> list[tuple[Any, Any]]:
    if isinstance(container, dict):
        return list(container.items())
    return list(enumerate(container))


def _rebuilt(values: tuple[Any, ...],
             swaps: Mapping[int, tuple[Any, Any]]) -> tuple[Any, ...]:
    return tuple(_swapped(value, swaps) for value in values)


def _swapped(value: Any, swaps: Mapping[int, tuple[Any, Any]]) -> Any:
    pair = swaps.get(id(value))
    return pair[1] if pair is not None and value is pair[0] else value


def _swap_in_dict(namespace: dict[Any, Any],
                  swaps: Mapping[int, tuple[Any, Any]]) -> int:
    swapped = 0
    for key, value in list(namespace.items()):
        pair = swaps.get(id(value))
        if pair is not None and value is pair[0]:
            namespace[key] = pair[1]
            swapped += 1
    return swapped


def _swap_in(holder: Any, swaps: Mapping[int, tuple[Any, Any]]) -> int:
    """Swap in a list, a cell, a partial, a static or class method, or an
    object's own ``__dict__`` (3.11 keeps small ones inline, so the object
    itself is the holder)."""
    if isinstance(holder, list):
        swapped = 0
        for index, value in enumerate(holder):
            new = _swapped(value, swaps)
            if new is not value:
                holder[index] = new
                swapped += 1
        return swapped
    if isinstance(holder, types.CellType):
        try:
            value = holder.cell_contents
        except ValueError:
            return 0
        new = _swapped(value, swaps)
        if new is value:
            return 0
        holder.cell_contents = new
        return 1
    if isinstance(holder, functools.partial):
        new = _swapped(holder.func, swaps)
        if new is holder.func:
            return 0
        _set_partial(holder, new, holder.args)
        return 1
    if isinstance(holder, (staticmethod, classmethod)):
        new = _swapped(holder.__func__, swaps)
        if new is holder.__func__:
            return 0
        holder.__init__(new)  # type: ignore[misc]
        return 1
    if isinstance(holder, type):
        return 0
    try:
        namespace = vars(holder)
    except TypeError:
        return 0
    if not isinstance(namespace, dict):
        return 0
    return _swap_in_dict(namespace, swaps)
