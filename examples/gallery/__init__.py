"""A gallery of seeded concurrency bugs, for ``python -m nova_fixtures.hunt``.

Each test in `examples.gallery.bugs` passes in (nearly) every plain run and
fails only under one rare interleaving. The module is not named
``test*.py``, so the example suite does not run it.
"""
