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
"""

import contextlib
import dataclasses
import io
import os
import textwrap
import unittest

import testscenarios
import testtools

import fake_transport
from fake_transport import registry
import nova_fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PYTHON_STARTS = ('import ', 'from ', 'class ', 'def ', '@')
NOT_RUN = '.. not-run:'


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
                 for b in python_blocks()]

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


# NOTE(docs): one test id per block, named by file and line.
load_tests = testscenarios.load_tests_apply_scenarios
