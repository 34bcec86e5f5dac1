"""Cursor pagination: one way for every list of every service and for the gateway's fan-out.

A list answers ``{"items": [...], "next_cursor": "..." | null}`` and takes ``?cursor=&limit=``.

The cursor is opaque and tamper-evident: the list's position (a small JSON object of the list's
own choosing: a sort key, an id, an offset) followed by an HMAC-SHA256 tag over that position
and the list's *context*. The context names the list and whatever the position only makes
sense with (the query searched, the item whose versions are listed, the caller's scope), so a
cursor of one list, query or caller is refused by another. A client cannot write a position of
its own: no forged offset, no integer out of range, no other caller's keyset. Whatever goes
wrong with a cursor is one problem, 400 ``invalid_cursor``; the client starts again from the
first page. The key is the service's ``cursor_key`` setting: replicas of a service share it,
and a new key only invalidates the cursors in flight.

``limit`` has one rule too (``page_size``): an integer of at least 1 (else 422), absent means
the list's default, more than the list's maximum is served as the maximum.
"""

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from typing import Annotated, Any

import orjson
from fastapi import Depends, Query, Request

from servicekit.problems import DomainError
from servicekit.settings import ServiceSettings
from servicekit.state import ServiceState, state_of

#: Longer cursors are refused unread; positions are a few dozen bytes.
MAX_CURSOR_LENGTH = 1024
_TAG_BYTES = 16


class InvalidCursor(DomainError):
    status = 400
    code = "invalid_cursor"
    title = "The cursor is not one this list gave out"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Cursors:
    """Signs positions into cursors and reads them back, with one service's key."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a cursor key is at least 16 bytes")
        self._key = key

    def _tag(self, context: str, payload: bytes) -> bytes:
        message = context.encode() + b"\x00" + payload
        return hmac.new(self._key, message, hashlib.sha256).digest()[:_TAG_BYTES]

    def encode(self, context: str, position: Mapping[str, Any]) -> str:
        """The cursor of ``position`` in the list named by ``context``."""
        payload = orjson.dumps(position, option=orjson.OPT_SORT_KEYS)
        return f"{_b64(payload)}.{_b64(self._tag(context, payload))}"

    def decode(self, context: str, cursor: str) -> dict[str, Any]:
        """The position a cursor of this list carries; ``InvalidCursor`` for anything else."""
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise InvalidCursor("the cursor is longer than any this service gives out")
        encoded, dot, tag = cursor.partition(".")
        try:
            payload, given = _unb64(encoded), _unb64(tag)
        except (binascii.Error, ValueError, UnicodeError) as exc:
            raise InvalidCursor() from exc
        if not dot or not hmac.compare_digest(given, self._tag(context, payload)):
            raise InvalidCursor()
        position = orjson.loads(payload)
        if not isinstance(position, dict):  # only one this service signed gets here
            raise InvalidCursor()
        return position

    def decode_optional(self, context: str, cursor: str | None) -> dict[str, Any] | None:
        return None if cursor is None else self.decode(context, cursor)


def page_size(limit: int | None, *, default: int, maximum: int) -> int:
    """The number of items a page holds: ``limit`` as asked, the list's default when absent,
    its maximum when more was asked."""
    if limit is None:
        return min(default, maximum)
    return min(limit, maximum)


CursorQuery = Annotated[
    str | None,
    Query(
        max_length=MAX_CURSOR_LENGTH,
        description="The `next_cursor` of the previous page; absent for the first page",
    ),
]
LimitQuery = Annotated[
    int | None,
    Query(
        ge=1,
        description="At most this many items; more than the list's maximum is served as the "
        "maximum, absent is the list's default",
    ),
]


def page_size_of(settings: ServiceSettings, limit: int | None) -> int:
    """``page_size`` with the service's own ``default_page_size`` and ``max_page_size``."""
    return page_size(limit, default=settings.default_page_size, maximum=settings.max_page_size)


async def _cursors(request: Request) -> Cursors:
    return state_of(request, ServiceState).cursors


CursorsDep = Annotated[Cursors, Depends(_cursors)]
