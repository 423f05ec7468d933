"""Start-up hook of ``python -m nova_fixtures.run`` in each child Python.

``nova_fixtures.run`` puts this directory first on ``PYTHONPATH``, so every
Python the wrapped command starts (stestr's workers among them) imports
this module at start-up. It imports the standard library only, and nothing
of nova_fixtures: suites such as Nova's refuse to start if eventlet (which
futurist, and so this library, imports when installed) was imported before
their own bootstrap ran. It then runs the ``sitecustomize`` it shadows, if
any (Debian ships one).

What it does, while ``NOVA_FIXTURES_RUN`` is set: it post-processes what
``unittest.TestLoader`` returns, and gives each test whose id starts with
one of ``NOVA_FIXTURES_TESTS`` (comma-separated; all when unset) a class
whose ``setUp`` first sets up the fixtures ``nova_fixtures.run`` chooses
from the environment. That is the first moment nova_fixtures is imported:
by then the loader has imported every test module, the suite's bootstrap
included. The class is swapped, not the instance's ``setUp``, because
runners copy tests (testscenarios runs ``copy.copy``s of each), and a copy
keeps its class but would share a bound method with the original.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types
import unittest
from typing import Any, Callable

_HERE = os.path.dirname(os.path.abspath(__file__))
_WRAPPED = '_nova_fixtures_wrapped'
_classes: dict[type[unittest.TestCase], type] = {}


def _chain() -> None:
    """Run the ``sitecustomize`` this module shadows on ``sys.path``."""
    for entry in sys.path:
        if not entry or os.path.abspath(entry) == _HERE:
            continue
        path = os.path.join(entry, 'sitecustomize.py')
        if os.path.isfile(path):
            spec = importlib.util.spec_from_file_location(
                '_nova_fixtures_shadowed_sitecustomize', path)
            if spec is not None and spec.loader is not None:
                module = importlib.util.module_from_spec(spec)
                sys.modules[spec.name] = module
                spec.loader.exec_module(module)
            return


_seen: set[str] = set()


def _selected(test_id: str) -> bool:
    prefixes = [p.strip() for p in os.environ.get('NOVA_FIXTURES_TESTS', '')
                .split(',') if p.strip()]
    if not prefixes:
        return True
    matched = [p for p in prefixes if test_id.startswith(p)]
    _note_seen(matched)
    return bool(matched)


def _note_seen(prefixes: list[str]) -> None:
    """Tell ``nova_fixtures.run`` (the file ``NOVA_FIXTURES_TESTS_SEEN``
    names) which prefixes selected a test, once each per process."""
    new = [p for p in prefixes if p not in _seen]
    path = os.environ.get('NOVA_FIXTURES_TESTS_SEEN')
    if not new or not path:
        return
    _seen.update(new)
    # NOTE(boot): O_APPEND writes this small land whole, whichever of
    # stestr's workers writes at the same time.
    with open(path, 'a') as f:
        f.write(''.join(f'{p}\n' for p in new))


def _set_up_run_fixtures(test: unittest.TestCase) -> None:
    from nova_fixtures import run
    run.set_up_fixtures(test)


def _wrapped_class(cls: type[unittest.TestCase]) -> type:
    sub = _classes.get(cls)
    if sub is None:
        def setUp(self: unittest.TestCase) -> None:
            _set_up_run_fixtures(self)
            cls.setUp(self)

        sub = type(cls.__name__, (cls,), {
            'setUp': setUp, _WRAPPED: True,
            '__module__': cls.__module__,
            '__qualname__': cls.__qualname__,
            '__doc__': cls.__doc__})
        _classes[cls] = sub
    return sub


def _walk(suite: Any) -> Any:
    stack = [suite]
    while stack:
        item = stack.pop()
        if isinstance(item, unittest.TestCase):
            cls = type(item)
            if not getattr(cls, _WRAPPED, False) and _selected(item.id()):
                item.__class__ = _wrapped_class(cls)
        elif isinstance(item, unittest.TestSuite):
            stack.extend(item)
    return suite


def _hook_loader(loader_module: types.ModuleType) -> None:
    cls = loader_module.TestLoader
    for name in ('loadTestsFromTestCase', 'loadTestsFromModule',
                 'loadTestsFromName', 'loadTestsFromNames', 'discover'):
        original = getattr(cls, name)

        def load(self: Any, *args: Any, __original: Any = original,
                 **kwargs: Any) -> Any:
            return _walk(__original(self, *args, **kwargs))

        load.__name__ = name
        setattr(cls, name, load)


def _prefer_threading(backend_module: Any) -> None:
    # NOTE(boot): a default only: a suite that chooses a backend itself
    # (nova's monkey_patch does) keeps its choice.
    backend_module.register_backend_default_hook(
        lambda: backend_module.BackendType.THREADING)


_AFTER: dict[str, Callable[[Any], None]] = {
    'unittest.loader': _hook_loader,
    'oslo_service.backend': _prefer_threading,
}


class _AfterImport(importlib.abc.MetaPathFinder):
    """Calls a hook of `_AFTER` once the module it names was executed."""

    def find_spec(self, name: str, path: Any,
                  target: Any = None) -> Any:
        hook = _AFTER.pop(name, None)
        if hook is None:
            return None
        if not _AFTER:
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module: types.ModuleType) -> None:
            execute(module)
            hook(module)

        setattr(spec.loader, 'exec_module', exec_module)
        return spec


def _install() -> None:
    for name in list(_AFTER):
        if name in sys.modules:
            _AFTER.pop(name)(sys.modules[name])
    if _AFTER:
        sys.meta_path.insert(0, _AfterImport())


if os.environ.get('NOVA_FIXTURES_RUN'):
    _install()
_chain()
