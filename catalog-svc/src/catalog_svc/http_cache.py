"""Conditional reads: every read answer carries an ETag (a digest of its body) and
Cache-Control; a request whose If-None-Match names the current ETag gets 304 and no body.

The catalogue changes only when it is seeded again, so the digest of the answer is its version:
a client or another service keeps what it has fetched and revalidates it for a few bytes.
"""

import hashlib

from fastapi import Request, Response
from pydantic import BaseModel

from catalog_svc.deps import CatalogState
from servicekit.state import state_of


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = {candidate.strip().removeprefix("W/") for candidate in header.split(",")}
    return "*" in candidates or etag in candidates


def cached_json(request: Request, body: BaseModel) -> Response:
    """The JSON answer with its validators, or 304 Not Modified when the client has it."""
    settings = state_of(request, CatalogState).settings
    payload = body.model_dump_json().encode()
    etag = f'"{hashlib.sha256(payload).hexdigest()[:32]}"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={settings.cache_max_age_seconds}",
    }
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(payload, media_type="application/json", headers=headers)
