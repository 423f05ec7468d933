"""Who may change the core's state: `nova_fixtures._core` only.

The core (`_core.Core`, its `_core.Park`s) holds membership, parks and
virtual time; `_bubble.Bubble` adds the detector's bookkeeping. Every other
module changes them through methods. These tests read the package's source
and fail on an assignment, augmented assignment, ``del`` or mutating call
on a core field from anywhere else, and on an import cycle between the
modules.
"""

from __future__ import annotations

import ast
import os

import testtools

import fake_transport
import nova_fixtures
from nova_fixtures import _bubble
from nova_fixtures import _core

_MUTATORS = frozenset({'append', 'clear', 'pop', 'popitem', 'remove',
                       'add', 'update', 'discard', 'extend', 'insert',
                       'setdefault', 'appendleft', 'popleft'})
# NOTE(test): how code outside the core names a core or a park.
_RECEIVERS = frozenset({'bubble', 'core', '_current', 'park', 'current',
                        'owner_core'})


def _init_fields(cls: type) -> set[str]:
    """Names ``cls.__init__`` assigns on ``self``."""
    import inspect
    import textwrap
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls.__init__)))
    found = set()
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Attribute) and isinstance(
                    target.value, ast.Name) and target.value.id == 'self':
                found.add(target.attr)
    return found


CORE_FIELDS = _init_fields(_core.Core) | set(_core.Park.__slots__)
BUBBLE_FIELDS = _init_fields(_bubble.Bubble) - CORE_FIELDS


def _last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _last_name(node.func)
    return None


def _changed(tree: ast.AST) -> list[tuple[int, ast.Attribute]]:
    """(line, ``x.field``) for each ``x.field`` (or ``x.field[k]``) that
    is assigned, deleted or mutated in place."""
    found = []

    def target(node: ast.expr, line: int) -> None:
        while isinstance(node, ast.Subscript):
            node = node.value
        if isinstance(node, ast.Attribute):
            found.append((line, node))
        elif isinstance(node, (ast.Tuple, ast.List)):
            for element in node.elts:
                target(element, line)

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for t in node.targets:
                target(t, node.lineno)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            target(node.target, node.lineno)
        elif isinstance(node, ast.Delete):
            for t in node.targets:
                target(t, node.lineno)
        elif isinstance(node, ast.Call) and isinstance(
                node.func, ast.Attribute) and node.func.attr in _MUTATORS:
            owner = node.func.value
            while isinstance(owner, ast.Subscript):
                owner = owner.value
            if isinstance(owner, ast.Attribute):
                found.append((node.lineno, owner))
    return found


def _sources() -> list[str]:
    paths = []
    for package in (nova_fixtures, fake_transport):
        top = os.path.dirname(package.__file__ or '')
        for folder, _, files in os.walk(top):
            paths.extend(os.path.join(folder, f) for f in sorted(files)
                         if f.endswith('.py'))
    return paths


def violations() -> list[str]:
    """``path:line: receiver.field`` for every write of a core field
    outside `_core` (and of a bubble field outside `_bubble`)."""
    found = []
    for path in _sources():
        base = os.path.basename(path)
        with open(path, encoding='utf-8') as source:
            tree = ast.parse(source.read(), path)
        for line, node in _changed(tree):
            receiver = _last_name(node.value)
            field = node.attr
            if base == '_core.py':
                continue
            if base == '_bubble.py' and receiver == 'self':
                if field in CORE_FIELDS:
                    found.append(f'{path}:{line}: self.{field}')
                continue
            if receiver in _RECEIVERS and (
                    field in CORE_FIELDS or field in BUBBLE_FIELDS):
                found.append(f'{path}:{line}: {receiver}.{field}')
    return found


def _imports() -> dict[str, set[str]]:
    """module -> the modules of the packages it imports, at its top level
    or inside a function (package ``__init__`` files, which only
    re-export, left out)."""
    graph: dict[str, set[str]] = {}
    packages = ('nova_fixtures', 'fake_transport')
    for path in _sources():
        folder, base = os.path.split(path)
        if base == '__init__.py':
            continue
        name = f'{os.path.basename(folder)}.{base[:-3]}'
        with open(path, encoding='utf-8') as source:
            tree = ast.parse(source.read(), path)
        deps = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module in packages:
                    deps.update(f'{node.module}.{a.name}'
                                for a in node.names)
                elif node.module.split('.')[0] in packages:
                    deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names
                            if a.name.split('.')[0] in packages)
        graph[name] = deps
    return {m: {d for d in deps if d in graph} for m, deps in graph.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph`` (its strongly connected components
    of more than one module, or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for dep in sorted(graph[node]):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


class TestNoImportCycle(testtools.TestCase):

    def test_the_cycle_finder_finds_one(self) -> None:
        self.assertEqual([['a', 'b', 'c']], cycles(
            {'a': {'b'}, 'b': {'c'}, 'c': {'a', 'd'}, 'd': set()}))

    def test_the_packages_import_no_cycle(self) -> None:
        graph = _imports()
        self.assertIn('nova_fixtures._core', graph['nova_fixtures.clock'])
        self.assertEqual([], cycles(graph))


class TestOnlyTheCoreWrites(testtools.TestCase):

    def test_the_fields_are_found(self) -> None:
        # NOTE(test): guards the reading of __init__: an empty set would
        # make the grep below pass vacuously.
        self.assertTrue({'members', 'parked', 'now_ns', 'sched',
                         'reports', 'detect'} <= CORE_FIELDS)
        self.assertTrue({'done', 'granted', 'outer'} <= CORE_FIELDS)
        self.assertTrue({'named_owner', 'named_waiting', 'lockdep'}
                        <= BUBBLE_FIELDS)

    def test_the_grep_sees_each_form_of_write(self) -> None:
        source = ('bubble.now_ns = 1\n'
                  'core.members[1] = "x"\n'
                  'self.bubble.progress += 1\n'
                  'bubble.reports.append("r")\n'
                  'del bubble.parked[1]\n'
                  'park.done = True\n'
                  'x = bubble.now_ns\n')
        lines = sorted(line for line, _ in _changed(ast.parse(source)))
        self.assertEqual([1, 2, 3, 4, 5, 6], lines)

    def test_no_module_but_the_core_writes_a_core_field(self) -> None:
        self.assertEqual([], violations())
