"""Every Python code block in README.rst and doc/source/ runs as written.

The rule, over the ``::`` literal blocks of ``README.rst`` and
``doc/source/**/*.rst`` (the docs use no ``code-block`` directive, and
`TestRule` keeps it so, so no block escapes the rule):

* A block is Python when its first line, comment lines aside, starts with
  ``import``, ``from``, ``class``, ``def`` or ``@``, or when it contains
  ``self.``. Any other block (shell commands, ``tox.ini`` or
  ``.stestr.conf`` text, requirements, output) is not run.
* A Python block deliberately not runnable is marked with the comment
  ``.. not-run: <why>`` as the last thing before the paragraph that
  introduces it (the reason is required; the comment does not render).
* A Python block is compiled under its file and line and run in a fresh
  namespace, its output discarded. Each ``unittest.TestCase`` subclass it
  defines is then run with testtools: every test in it must pass, and
  there must be at least one. A block using ``self.`` must define its test
  class (a fragment can't run as written); mark it otherwise.
* ``memory://`` buses a block makes are discarded after it.

Blocks for pytest (``doc/source/pytest.rst``'s), over the same Python
blocks:

* A Python block whose first line is a comment naming a Python file,
  ``# <name>.py`` (``# conftest.py``, ``# test_compute.py``, a module
  ``# compute.py`` the tests import), is a file of the page's pytest suite
  rather than a block run as above. The suite blocks of one page are
  written to those files in a fresh directory (blocks naming one file
  are joined in order), with a ``pytest.ini`` of its own, and
  ``python -m pytest -p no:cacheprovider`` runs there in a child process
  with no ``NOVA_FIXTURES_*`` variable set: every test must pass (a skip
  is a failure), and every ``test_*.py`` file must have at least one
  test that ran. ``.. not-run: <why>`` before a suite block leaves it out
  of the suite.
* A Python block with a module-level ``def test_`` is a pytest test, and
  must be a suite block (name its file): run as above it would only be
  defined, never run.
"""

import collections
import contextlib
import dataclasses
import io
import os
import re
import subprocess
import sys
import textwrap
import unittest
from xml.etree import ElementTree

import fixtures
import testscenarios
import testtools

import fake_transport
from fake_transport import registry
import nova_fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PYTHON_STARTS = ('import ', 'from ', 'class ', 'def ', '@')
NOT_RUN = '.. not-run:'
SUITE_FILE = re.compile(r'# ([A-Za-z_][A-Za-z0-9_]*\.py)$')
PYTEST_TEST = re.compile(r'^def test_', re.MULTILINE)


@dataclasses.dataclass(frozen=True)
class Block:
    path: str
    line: int
    source: str
    not_run: str | None

    @property
    def is_python(self) -> bool:
        code = [line for line in self.source.split('\n')
                if line.strip() and not line.startswith('#')]
        first = code[0] if code else ''
        return first.startswith(PYTHON_STARTS) or 'self.' in self.source

    @property
    def suite_file(self):
        """The file of the page's pytest suite this block is, or None."""
        found = SUITE_FILE.match(self.source.split('\n', 1)[0].strip())
        return found.group(1) if found else None


def _indent(line):
    return len(line) - len(line.lstrip(' '))


def _marker(lines, intro):
    """The ``.. not-run:`` reason before the intro line's paragraph."""
    start = intro
    while start > 0 and lines[start - 1].strip():
        start -= 1
    before = start - 1
    while before >= 0 and not lines[before].strip():
        before -= 1
    if before >= 0 and lines[before].strip().startswith(NOT_RUN):
        return lines[before].strip()[len(NOT_RUN):].strip()
    return None


def literal_blocks(text, path='<text>'):
    """Return the ``::`` literal blocks of reStructuredText ``text``."""
    lines = text.split('\n')
    blocks = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.endswith('::') or stripped.startswith('..'):
            continue
        base = _indent(line)
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        first = j
        while j < len(lines) and (not lines[j].strip() or
                                  _indent(lines[j]) > base):
            j += 1
        body = lines[first:j]
        if not body or _indent(body[0]) <= base:
            continue
        blocks.append(Block(path, first + 1,
                            textwrap.dedent('\n'.join(body)).strip('\n') +
                            '\n', _marker(lines, i)))
    return blocks


def doc_files():
    files = [os.path.join(ROOT, 'README.rst')]
    for top, dirs, names in os.walk(os.path.join(ROOT, 'doc', 'source')):
        dirs.sort()
        files += [os.path.join(top, n) for n in sorted(names)
                  if n.endswith('.rst')]
    return files


def python_blocks():
    blocks = []
    for path in doc_files():
        with open(path, encoding='utf-8') as f:
            text = f.read()
        blocks += [b for b in literal_blocks(text, os.path.relpath(path, ROOT))
                   if b.is_python]
    return blocks


def suite_pages():
    """{page: [its suite blocks, not-run ones left out]}, in order."""
    pages = collections.defaultdict(list)
    for block in python_blocks():
        if block.suite_file is not None and block.not_run is None:
            pages[block.path].append(block)
    return dict(pages)


def run_suite(blocks, where):
    """Write the suite ``blocks`` to ``where`` and run pytest there.

    :returns: (the child's output, {test file: [(test, outcome)]}), the
        outcome ``'passed'``, ``'failed'``, ``'error'`` or ``'skipped'``.
    """
    files = collections.defaultdict(list)
    for block in blocks:
        files[block.suite_file].append(block.source)
    for name, sources in files.items():
        with open(os.path.join(where, name), 'w', encoding='utf-8') as f:
            f.write('\n\n'.join(sources))
    with open(os.path.join(where, 'pytest.ini'), 'w') as f:
        f.write('[pytest]\n')
    env = {k: v for k, v in os.environ.items()
           if not k.startswith('NOVA_FIXTURES_')}
    env['PYTHONDONTWRITEBYTECODE'] = '1'
    xml = os.path.join(where, 'results.xml')
    child = subprocess.run(
        [sys.executable, '-m', 'pytest', '-p', 'no:cacheprovider', '-q',
         '-rfEs', f'--junitxml={xml}', '-o', 'junit_family=xunit2'],
        cwd=where, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=600)
    outcomes = collections.defaultdict(list)
    if os.path.exists(xml):
        for case in ElementTree.parse(xml).iter('testcase'):
            module = case.get('classname', '').split('.')[0]
            outcome = 'passed'
            for kind in ('failure', 'error', 'skipped'):
                if case.find(kind) is not None:
                    outcome = 'failed' if kind == 'failure' else kind
            outcomes[f'{module}.py'].append((case.get('name'), outcome))
    return child.stdout, dict(outcomes)


def run_block(block):
    """Run ``block``; return the testtools results of its test classes."""
    code = compile(block.source, f'{block.path}:{block.line}', 'exec')
    namespace = {'__name__': 'doc_block'}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(code, namespace)
    loader = unittest.TestLoader()
    results = {}
    for name, value in namespace.items():
        if isinstance(value, type) and \
                issubclass(value, unittest.TestCase) and \
                value.__module__ == 'doc_block':
            result = testtools.TestResult()
            loader.loadTestsFromTestCase(value).run(result)
            results[name] = result
    return results


class TestRule(testtools.TestCase):

    def test_python_blocks_are_found_and_others_skipped(self):
        text = textwrap.dedent('''\
            Shell::

                tox -e docs

            Code::

                import os
                print(os.sep)

            .. not-run: needs a cloud

            Fragment::

                self.cloud.boot()

            * a list item ending in::

                class Foo:
                    pass

            .. toctree::

               usage
            ''')
        blocks = literal_blocks(text)
        self.assertEqual(
            [(3, 'tox -e docs\n', False, None),
             (7, 'import os\nprint(os.sep)\n', True, None),
             (14, 'self.cloud.boot()\n', True, 'needs a cloud'),
             (18, 'class Foo:\n    pass\n', True, None)],
            [(b.line, b.source, b.is_python, b.not_run) for b in blocks])

    def test_suite_blocks_are_named_by_their_first_line(self):
        text = textwrap.dedent('''\
            A conftest::

                # conftest.py
                import pytest

            A test::

                # test_x.py
                def test_it(bus):
                    pass

            Not a file::

                # see conftest.py
                import os
            ''')
        self.assertEqual(
            ['conftest.py', 'test_x.py', None],
            [b.suite_file for b in literal_blocks(text)])

    def test_pytest_tests_are_in_suite_blocks(self):
        for block in python_blocks():
            if block.not_run is None and block.suite_file is None:
                self.assertIsNone(
                    PYTEST_TEST.search(block.source),
                    f'{block.path}:{block.line} defines a pytest test: '
                    f'name its file on its first line (# test_<name>.py)')

    def test_a_failing_suite_is_reported(self):
        blocks = [Block('<test>', 1, '# helper.py\nVALUE = 1\n', None),
                  Block('<test>', 5, textwrap.dedent('''\
                      # test_a.py
                      from helper import VALUE

                      def test_passes():
                          assert 1 == VALUE

                      def test_fails():
                          assert 2 == VALUE
                      '''), None),
                  Block('<test>', 9, '# test_b.py\nimport os\n', None)]
        where = self.useFixture(fixtures.TempDir()).path
        output, outcomes = run_suite(blocks, where)
        # NOTE(test_docs): pytest-randomly, where installed, shuffles them.
        self.assertEqual(
            {'test_a.py': [('test_fails', 'failed'),
                           ('test_passes', 'passed')]},
            {name: sorted(tests) for name, tests in outcomes.items()},
            output)

    def test_docs_use_no_code_block_directive(self):
        for path in doc_files():
            with open(path, encoding='utf-8') as f:
                self.assertNotIn('code-block::', f.read(), path)

    def test_readme_test_example_is_collected(self):
        readme = [b for b in python_blocks() if b.path == 'README.rst']
        self.assertTrue(any('class TestCompute(' in b.source
                            for b in readme))

    def test_marked_blocks_give_a_reason(self):
        for block in python_blocks():
            if block.not_run is not None:
                self.assertNotEqual('', block.not_run,
                                    f'{block.path}:{block.line}')

    def test_a_failing_test_class_is_reported(self):
        block = Block('<test>', 1, textwrap.dedent('''\
            import testtools

            class TestFails(testtools.TestCase):
                def test_it(self):
                    self.fail('no')
            '''), None)
        [(name, result)] = run_block(block).items()
        self.assertEqual('TestFails', name)
        self.assertFalse(result.wasSuccessful())


class TestApiReference(testtools.TestCase):

    def test_every_public_name_has_an_entry(self):
        for package in (nova_fixtures, fake_transport):
            name = package.__name__
            path = os.path.join(ROOT, 'doc', 'source', 'reference',
                                f'{name}.rst')
            with open(path, encoding='utf-8') as f:
                entries = {line.split('::', 1)[1].strip().split('.')[-1]
                           for line in f if line.startswith('.. auto')}
            self.assertEqual([], sorted(set(package.__all__) - entries),
                             f'names of {name} missing from {path}')


class TestCodeBlocks(testtools.TestCase):
    """Each Python block of the docs, run as written."""

    scenarios = [(f'{b.path}:{b.line}', {'block': b})
                 for b in python_blocks() if b.suite_file is None]

    def test_block_runs(self):
        block = self.block
        if block.not_run is not None:
            self.skipTest(f'marked not-run: {block.not_run}')
        if 'self.' in block.source:
            self.assertIn('class ', block.source,
                          f'{block.path}:{block.line} uses self. outside a '
                          f'test class; define the class or mark it '
                          f'{NOT_RUN} <why>')
        before = set(registry._brokers)
        self.addCleanup(self._discard_new_buses, before)
        results = run_block(block)
        if 'self.' in block.source:
            self.assertNotEqual({}, results)
        for name, result in results.items():
            problems = result.errors + result.failures + \
                result.unexpectedSuccesses
            report = '\n'.join(f'{test.id()}:\n{text}'
                               for test, text in problems)
            self.assertTrue(result.wasSuccessful(),
                            f'{name} in {block.path}:{block.line} '
                            f'failed:\n{report}')
            self.assertGreater(result.testsRun, 0,
                               f'{name} in {block.path}:{block.line} has '
                               f'no tests')

    @staticmethod
    def _discard_new_buses(before):
        for name in set(registry._brokers) - before:
            fake_transport.discard_broker(f'memory://{name}/')


class TestPytestSuites(testtools.TestCase):
    """Each page's pytest suite, run with pytest as written."""

    scenarios = [(path, {'page': path, 'blocks': blocks})
                 for path, blocks in suite_pages().items()]

    def test_suite_passes(self):
        where = self.useFixture(fixtures.TempDir()).path
        output, outcomes = run_suite(self.blocks, where)
        origins = collections.defaultdict(list)
        for block in self.blocks:
            origins[block.suite_file].append(f'{block.path}:{block.line}')
        for name, places in origins.items():
            if not name.startswith('test_'):
                continue
            ran = outcomes.get(name, [])
            self.assertNotEqual([], ran, f'{name} ({", ".join(places)}) '
                                         f'ran no test:\n{output}')
            self.assertEqual(
                [], [(test, outcome) for test, outcome in ran
                     if outcome != 'passed'],
                f'{name} ({", ".join(places)}) has tests that did not '
                f'pass:\n{output}')


# NOTE(docs): one test id per block (and per page's pytest suite), named
# by file and line.
load_tests = testscenarios.load_tests_apply_scenarios
