"""Sphinx configuration for nova-fixtures (``tox -e docs``)."""

import os
import sys

# NOTE(docs): build from the checkout, installed or not.
sys.path.insert(0, os.path.abspath(os.path.join(
    os.path.dirname(__file__), '..', '..')))

# NOTE(docs): fake_transport first: importing it selects oslo.service's
# threading backend before autodoc imports anything that imports
# oslo_messaging, so no eventlet monkey-patching happens here either.
import fake_transport  # noqa: E402,F401

project = 'nova-fixtures'
copyright = 'nova-fixtures contributors'
author = 'nova-fixtures contributors'

extensions = [
    'sphinx.ext.autodoc',
]

# NOTE(docs): the docstrings write cross references in single backticks
# (`TransportFixture`); resolve them as Python objects. One that names no
# documented object renders as code, without a warning (nitpicky is off).
default_role = 'py:obj'

autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
autodoc_default_options = {
    'members': True,
    'show-inheritance': False,
}

exclude_patterns = ['_build']
html_theme = 'alabaster'
html_static_path = []
