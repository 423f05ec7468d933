"""Parse ``memory://`` transport URLs into the name of an isolated bus."""

from __future__ import annotations

import re
import urllib.parse

import oslo_messaging

__all__ = ['InvalidMemoryURL', 'bus_name']

SCHEME = 'memory'
_NAME_RE = re.compile(r'^[A-Za-z0-9._~%-]*$')
_CONTROL_RE = re.compile(r'[\x00-\x1f\x7f]')


class InvalidMemoryURL(ValueError):
    """A URL given for the memory transport is not a valid ``memory://`` URL.
    """


def _from_string(url: str) -> str:
    # NOTE(urls): urlsplit() silently deletes tab, CR and LF anywhere and
    # strips control characters at the start, so 'memory://a\nb/' would
    # name the bus 'ab'; refuse them before it sees the URL.
    if _CONTROL_RE.search(url):
        raise InvalidMemoryURL(
            f"{url!r} is malformed: a memory:// URL holds no control "
            f"characters (such as tab or newline)")
    parts = urllib.parse.urlsplit(url)
    # NOTE(urls): oslo.messaging loads the driver named before a '+', so
    # 'memory+foo://x/' reaches us; it is not the URL the user meant.
    if parts.scheme != SCHEME:
        raise InvalidMemoryURL(
            f"{url!r} is not a memory:// URL (scheme {parts.scheme!r}); "
            f"use memory:// or memory://<bus>/")
    if not url.startswith(f'{parts.scheme}://'):
        raise InvalidMemoryURL(
            f"{url!r} is malformed: write memory:// or memory://<bus>/")
    # NOTE(urls): look at the text, not at parts.username / password /
    # port: 'memory://:@/' has an empty user and password, and .port
    # raises its own ValueError for 'memory://x:abc/'.
    if '@' in parts.netloc or ':' in parts.netloc:
        raise InvalidMemoryURL(
            f"{url!r} is malformed: a memory:// URL names a bus only, "
            f"without user, password or port")
    if parts.query or parts.fragment:
        raise InvalidMemoryURL(
            f"{url!r} is malformed: a memory:// URL takes no query or "
            f"fragment")
    host = parts.netloc
    vhost = parts.path.strip('/')
    for piece in (host, vhost):
        if not _NAME_RE.match(piece) or '/' in vhost:
            raise InvalidMemoryURL(
                f"{url!r} is malformed: a bus name is letters, digits and "
                f"'._~%-' (memory://<bus>/)")
    return '/'.join(p for p in (host, vhost) if p)


def bus_name(url: str | oslo_messaging.TransportURL) -> str:
    """Return the bus name a ``memory://`` URL addresses.

    ``memory://`` and ``memory:///`` name the default bus ``''``;
    ``memory://cell1/`` and ``memory:///cell1`` both name ``'cell1'``.

    :raises InvalidMemoryURL: for another scheme or a malformed URL.
    """
    if isinstance(url, oslo_messaging.TransportURL):
        text = str(url)
        # NOTE(urls): TransportURL renders no-host URLs as 'memory:///vhost'
        # and drops nothing we care about; parse the rendered form.
        return _from_string(text)
    if not isinstance(url, str):
        raise InvalidMemoryURL(
            f"a transport URL must be a string, got {type(url).__name__}")
    return _from_string(url)
