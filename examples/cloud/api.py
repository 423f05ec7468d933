"""The API: a JSON WSGI app in front of the conductor."""

import json

import oslo_messaging


def make_app(api_bus):
    """Return the WSGI app, talking to the conductor on ``api_bus``."""
    conductor = api_bus.rpc_client('conductor', timeout=300)
    scheduler = api_bus.rpc_client('scheduler', timeout=30)

    def respond(start_response, status, body):
        data = json.dumps(body).encode()
        start_response(status, [('Content-Type', 'application/json'),
                                ('Content-Length', str(len(data)))])
        return [data]

    def app(environ, start_response):
        method = environ['REQUEST_METHOD']
        parts = [p for p in environ['PATH_INFO'].split('/') if p]
        if method == 'POST' and parts == ['servers']:
            length = int(environ.get('CONTENT_LENGTH') or 0)
            request = json.loads(environ['wsgi.input'].read(length) or '{}')
            try:
                server_id = conductor.call(
                    {}, 'create_server', name=request['name'],
                    cell=request.get('cell'))
            except oslo_messaging.RemoteError as exc:
                return respond(start_response, '409 Conflict',
                               {'error': exc.exc_type})
            return respond(start_response, '202 Accepted',
                           {'id': server_id})
        if method == 'GET' and len(parts) == 2 and parts[0] == 'servers':
            try:
                server = conductor.call({}, 'get_server',
                                        server_id=parts[1])
            except oslo_messaging.RemoteError as exc:
                if exc.exc_type == 'ServerNotFound':
                    return respond(start_response, '404 Not Found',
                                   {'error': 'no such server'})
                raise
            return respond(start_response, '200 OK', server)
        if method == 'GET' and parts == ['servers']:
            return respond(start_response, '200 OK',
                           conductor.call({}, 'list_servers'))
        if method == 'GET' and parts == ['hosts']:
            return respond(start_response, '200 OK',
                           scheduler.call({}, 'list_hosts'))
        return respond(start_response, '404 Not Found',
                       {'error': 'no such resource'})

    return app
