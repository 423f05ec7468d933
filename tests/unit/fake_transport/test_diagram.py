"""The journal as a message sequence diagram, in text and in HTML."""

import oslo_messaging
import testtools

from fake_transport import diagram
from fake_transport import journal
import nova_fixtures


def small_journal():
    """A call and its reply, a dropped cast, a call that timed out."""
    times = iter([0.0, 0.25, 0.5, 30.5])
    journal.set_virtual_clock(lambda: next(times))
    try:
        kept = journal.Journal(limit=None)

        def send(kind, server, method, sender, msg_id, outcome):
            entry = kept.record(
                kind=kind, exchange='' if kind == 'reply' else 'nova',
                topic='compute', server=server, method=method,
                sender=sender, msg_id=msg_id)
            entry.outcome = outcome

        send('call', 'c1', 'ping', 'test', 'm1', 'handled')
        send('reply', 'c1', 'ping', 'c1', 'm1', 'delivered')
        send('cast', 'c2', 'stop', 'test', 'm2', 'dropped')
        send('call', 'c2', 'ping', 'test', 'm3', 'expired')
    finally:
        journal.set_virtual_clock(None)
    return kept.entries()


PAD = ' ' * 12
SMALL_TEXT = '\n'.join([
    PAD + '             test                     c1                      c2',
    PAD + '               │                       │                       │',
    '#1   +0.000 s  ' + '            ├───call compute.ping───▶'
    '                       │  handled',
    '#2   +0.250 s  ' + '            ◀──reply compute.ping───┤'
    '                       │  delivered',
    '#3   +0.500 s  ' + '            ├───────────────cast compute.stop'
    '───────────────✗  dropped ✗',
    '#4  +30.500 s  ' + '            ├───────────────call compute.ping'
    '───────────────✗  expired [timeout]',
])


class TestRenderText(testtools.TestCase):

    def test_small_journal_is_drawn_exactly(self):
        self.assertEqual(SMALL_TEXT, diagram.render_text(small_journal()))

    def test_no_entries_say_so(self):
        self.assertEqual('(no messages)', diagram.render_text([]))


class TestRenderHTML(testtools.TestCase):

    def test_page_is_self_contained_with_an_inline_svg(self):
        page = diagram.render_html(small_journal(), title='a & b')
        self.assertTrue(page.startswith(
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8">\n'
            '<title>a &amp; b</title></head>'), page)
        self.assertIn('<svg xmlns="http://www.w3.org/2000/svg"', page)
        self.assertNotIn('src=', page)
        self.assertNotIn('href=', page)
        self.assertIn('>call compute.ping</text>', page)
        self.assertIn('>expired [timeout]</text>', page)
        self.assertIn('>dropped ✗</text>', page)
        self.assertEqual(page, diagram.render_html(small_journal(),
                                                   title='a & b'))

    def test_no_entries_say_so(self):
        self.assertIn('<p>(no messages)</p>', diagram.render_html([]))


class Echo:
    def echo(self, ctxt, value):
        return value


class TestTransportFixtureDetails(testtools.TestCase):

    def test_failed_test_gets_the_sequence_in_text_and_html(self):
        class Inner(testtools.TestCase):
            def test_fails(self):
                bus = self.useFixture(nova_fixtures.TransportFixture())
                self.useFixture(nova_fixtures.ServiceFixture(
                    Echo(), 'echo', 'h', bus))
                bus.rpc_client('echo', server='h').call({}, 'echo', value=1)
                self.url = bus.url
                self.fail('on purpose')

        test = Inner('test_fails')
        result = testtools.TestResult()
        test.run(result)
        self.assertEqual(1, len(result.failures))
        details = test.getDetails()
        text = details['fake-transport:sequence']
        self.assertEqual('text/plain; charset="utf8"',
                         str(text.content_type))
        lines = text.as_text().splitlines()
        self.assertEqual(['MainThread', 'h'], lines[0].split())
        self.assertRegex(lines[2], r'^#1 +\+0\.000 s real +├─+call '
                                   r'echo\.echo─+▶ +handled$')
        self.assertRegex(lines[3], r'^#2 .*◀─*reply echo\.echo─+┤ '
                                   r'+delivered$')
        page = details['fake-transport:sequence-html']
        self.assertEqual('text/html; charset="utf8"',
                         str(page.content_type))
        self.assertTrue(page.as_text().startswith(
            f'<!DOCTYPE html>\n<html><head><meta charset="utf-8">\n'
            f'<title>Messages on {test.url}</title></head>'))

    def test_transport_timeout_is_marked_in_the_sequence(self):
        bus = self.useFixture(nova_fixtures.TransportFixture())
        self.assertRaises(oslo_messaging.MessagingTimeout,
                          bus.rpc_client('echo', server='h',
                                         timeout=0.05).call,
                          {}, 'echo', value=1)
        self.assertIn('unroutable ✗', diagram.render_text(
            bus.broker.journal.entries()))
