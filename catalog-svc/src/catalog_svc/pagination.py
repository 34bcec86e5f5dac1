"""Opaque cursors for paginated lists: base64url of a small JSON object the list defines."""

import base64
import binascii
import json
from typing import Any

from servicekit.problems import DomainError


class InvalidCursor(DomainError):
    status = 422
    code = "invalid_cursor"
    title = "The cursor is not one this list gave out"


def encode_cursor(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor() from exc
    if not isinstance(position, dict):
        raise InvalidCursor()
    return position
