"""Conditional public reads: an answer carries an ETag (a digest of its body) and
``Cache-Control: public, max-age=…``; a request whose If-None-Match names the current ETag gets
304 and no body. For answers anyone may cache: a catalogue, published statistics."""

import hashlib

from fastapi import Request, Response
from pydantic import BaseModel


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = {candidate.strip().removeprefix("W/") for candidate in header.split(",")}
    return "*" in candidates or etag in candidates


def cached_json(request: Request, body: BaseModel, *, max_age_seconds: int) -> Response:
    """The JSON answer with its validators, or 304 Not Modified when the client has it."""
    payload = body.model_dump_json().encode()
    etag = f'"{hashlib.sha256(payload).hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={max_age_seconds}"}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(payload, media_type="application/json", headers=headers)
