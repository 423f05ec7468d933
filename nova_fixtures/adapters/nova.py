"""What Nova's functional suite needs under ``nova_fixtures.run``.

Selected with ``--adapter nova``. Nova's test ``CheatingSerializer`` puts
live objects in every RPC context: ``db_connection`` (an oslo.db
transaction context manager, so that a service reaches its cell's
database) and ``mq_connection``. The ``fake:`` driver passed contexts by
reference; ``memory://`` round-trips them through JSON as rabbit does, so
those two keys travel by handle instead.
"""

__all__ = ['CONTEXT_HANDLES']

CONTEXT_HANDLES = ('db_connection', 'mq_connection')
