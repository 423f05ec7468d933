"""WSGIServiceFixture: real HTTP on 127.0.0.1, nothing left behind."""

import json
import threading
import urllib.request

import testtools

import nova_fixtures


def hello_app(environ, start_response):
    body = json.dumps({'path': environ['PATH_INFO']}).encode()
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]


class TestWSGIServiceFixture(testtools.TestCase):

    def test_serves_http_on_loopback_and_an_ephemeral_port(self):
        before = set(threading.enumerate())
        with nova_fixtures.WSGIServiceFixture(hello_app, name='api') as api:
            self.assertRegex(api.url, r'^http://127\.0\.0\.1:\d+$')
            with urllib.request.urlopen(api.url + '/servers') as response:
                self.assertEqual({'path': '/servers'},
                                 json.loads(response.read()))
        self.assertEqual([], [t for t in threading.enumerate()
                              if t not in before])
        self.assertRaises(OSError, urllib.request.urlopen, api.url)

    def test_app_factory_that_raises_leaves_nothing_open(self):
        def broken():
            raise KeyError('missing config')

        before = set(threading.enumerate())
        fixture = nova_fixtures.WSGIServiceFixture(app_factory=broken,
                                                   name='api')
        error = self.assertRaises(Exception, fixture.setUp)
        first = error.args[0][1]
        self.assertIsInstance(first, nova_fixtures.WSGIStartupError)
        self.assertEqual("WSGI app 'api' failed to start: KeyError: "
                         "'missing config'", str(first))
        self.assertEqual([], [t for t in threading.enumerate()
                              if t not in before])

    def test_needs_exactly_one_of_app_and_factory(self):
        error = self.assertRaises(ValueError,
                                  nova_fixtures.WSGIServiceFixture)
        self.assertEqual('give exactly one of app and app_factory',
                         str(error))
