"""Conditional reads of the catalogue (``servicekit.http_cache``): every read answer carries an
ETag (a digest of its body) and Cache-Control for ``CATALOG_CACHE_MAX_AGE_SECONDS``.

The catalogue changes only when it is seeded again, so the digest of the answer is its version:
a client or another service keeps what it has fetched and revalidates it for a few bytes.
"""

from fastapi import Request, Response
from pydantic import BaseModel

from catalog_svc.deps import CatalogState
from servicekit import http_cache
from servicekit.state import state_of


def cached_json(request: Request, body: BaseModel) -> Response:
    """The JSON answer with its validators, or 304 Not Modified when the client has it."""
    settings = state_of(request, CatalogState).settings
    return http_cache.cached_json(request, body, max_age_seconds=settings.cache_max_age_seconds)
