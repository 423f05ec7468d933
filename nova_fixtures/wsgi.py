"""WSGIServiceFixture: a WSGI app served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
import socketserver
import threading
from typing import Any, Callable
from wsgiref import simple_server

from nova_fixtures import _state
from nova_fixtures import clock

__all__ = ['WSGIServiceFixture', 'WSGIStartupError']


class WSGIStartupError(RuntimeError):
    """The app factory of a `WSGIServiceFixture` raised."""


class _QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged to stderr."""

    def handle(self) -> None:
        # NOTE(wsgi): on a clock, the client's io_wait counts as blocked
        # only while this thread answers it.
        with clock.io_answer():
            super().handle()


class _Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    # NOTE(wsgi): non-daemon request threads, joined by server_close(), so
    # no request outlives the fixture.
    daemon_threads = False
    block_on_close = True


class WSGIServiceFixture(_state.GuardedFixture):
    """Serve a WSGI app on 127.0.0.1, an ephemeral port, a native thread.

    The accept loop blocks in ``accept()`` (no poll interval); cleanup wakes
    it with a connection of its own, joins it and every request thread, and
    closes the socket.

    :param app: the WSGI application, or
    :param app_factory: a callable returning it, called in ``setUp``; if it
        raises, setUp fails with `WSGIStartupError` and nothing is left
        open.
    :param name: names the serving thread.
    :ivar url: ``http://127.0.0.1:<port>``.
    :ivar port: the port.

    Example::

        api = self.useFixture(WSGIServiceFixture(app, name='api'))
        urllib.request.urlopen(api.url + '/servers')
    """

    def __init__(self, app: Callable[..., Any] | None = None, *,
                 app_factory: Callable[[], Callable[..., Any]] | None = None,
                 name: str = 'wsgi') -> None:
        super().__init__()
        if (app is None) == (app_factory is None):
            raise ValueError('give exactly one of app and app_factory')
        self._app = app
        self._factory = app_factory
        self.name = name

    def _setUp(self) -> None:
        app = self._app
        if self._factory is not None:
            try:
                app = self._factory()
            except Exception as exc:
                raise WSGIStartupError(
                    f'WSGI app {self.name!r} failed to start: '
                    f'{type(exc).__name__}: {exc}') from exc
        self._stopping = False
        httpd = _Server(('127.0.0.1', 0), _QuietHandler)
        self.addCleanup(httpd.server_close)
        httpd.set_app(app)
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self.url = f'http://127.0.0.1:{self.port}'
        self._thread = threading.Thread(target=self._serve,
                                        name=f'wsgi-{self.name}',
                                        daemon=True)
        self.addCleanup(self._stop)
        self._thread.start()
        self._ready()

    def _serve(self) -> None:
        while not self._stopping:
            # NOTE(wsgi): idle in accept(), this thread doesn't hold up a
            # virtual clock; request threads run as usual.
            with clock.io_listen():
                self._httpd.handle_request()

    def _stop(self) -> None:
        self._stopping = True
        if self._thread.is_alive():
            # NOTE(wsgi): wake the blocked accept(); the loop then sees
            # _stopping and returns. On a clock, the connection is I/O in
            # flight until the accept loop answers it.
            with clock.io_wait():
                with socket.create_connection(('127.0.0.1', self.port)):
                    pass
                self._thread.join()
