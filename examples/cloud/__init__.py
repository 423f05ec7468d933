"""A small multi-service "cloud", written as a user of nova_fixtures would.

API (WSGI) -> super conductor -> scheduler (two of them, fed by fanout
heartbeats) -> computes in two cells, each cell on its own bus; a
notification agent on every bus; a periodic usage poller.
"""
