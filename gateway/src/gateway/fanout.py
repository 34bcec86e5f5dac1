"""Fan-out: a list call that must see every instance of a service (a citizen's own cases live in
whichever region handled them) goes to every pool in parallel; the pages are merged in the
service's order, with one combined cursor.

Each pool lists newest first (``order_by`` keys, ``descending``) with ``?cursor=&limit=`` and
answers ``{"items": [...], "next_cursor": ...}``. The combined cursor records, per pool, the
cursor of the page being read and how many of its items were already handed out, so that the
next page starts exactly after the last item given, whatever the pools' own cursors are. A page
stops early rather than guess: when a pool that has more items ran out of fetched ones, the
items after it could belong anywhere. A pool that fails or does not answer in time is listed in
``incomplete`` (with the problem code) and kept at its place for the next page, never silently
dropped; when no pool answers, the request fails as a single pool's would.
"""

import asyncio
import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from gateway.messages import Answer
from gateway.routing import FanOut
from gateway.upstreams import UpstreamPool
from servicekit.problems import DomainError

#: The query parameters and body members the listing services share.
CURSOR, LIMIT, ITEMS, NEXT_CURSOR = "cursor", "limit", "items", "next_cursor"


class InvalidCursor(DomainError):
    status = 400
    code = "invalid_cursor"
    title = "The cursor is not one this list handed out"


@dataclass(slots=True)
class _Position:
    #: The pool's own cursor of the page being read (None: its first page).
    cursor: str | None
    #: How many items of that page were handed out already.
    skip: int


def _decode(
    cursor: str | None, pools: Sequence[str], limit: int
) -> tuple[int, dict[str, _Position | None]]:
    """The page size and, per pool, where it stands (None: all its items were handed out).
    The size is the first page's: positions count items of pages of that size."""
    if cursor is None:
        return limit, {pool: _Position(None, 0) for pool in pools}
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii") + b"=="))
        limit = state["l"]
        if not isinstance(limit, int) or limit < 1:
            raise TypeError(limit)
        positions: dict[str, _Position | None] = {}
        for pool in pools:
            entry = state["p"][pool]
            if entry is None:
                positions[pool] = None
                continue
            page, skip = entry
            if not (page is None or isinstance(page, str)) or not isinstance(skip, int):
                raise TypeError(entry)
            if not 0 <= skip < limit:
                raise ValueError(skip)
            positions[pool] = _Position(page, skip)
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeError) as exc:
        raise InvalidCursor() from exc
    return limit, positions


def _encode(limit: int, positions: dict[str, _Position | None]) -> str | None:
    if all(position is None for position in positions.values()):
        return None
    state = {
        "l": limit,
        "p": {
            pool: None if position is None else [position.cursor, position.skip]
            for pool, position in positions.items()
        },
    }
    raw = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(slots=True)
class _Page:
    items: list[Any]
    next_cursor: str | None


def _page(answer: Answer) -> _Page | None:
    try:
        body = json.loads(answer.body)
        items, next_cursor = body[ITEMS], body.get(NEXT_CURSOR)
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(items, list) or not (next_cursor is None or isinstance(next_cursor, str)):
        return None
    return _Page(items, next_cursor)


class FanOutList:
    def __init__(self, spec: FanOut, pools: Mapping[str, UpstreamPool]) -> None:
        self._spec = spec
        self._pools = pools
        self._names = sorted(pools)

    async def __call__(self, path: str, query: bytes, headers: list[tuple[bytes, bytes]]) -> Answer:
        parameters = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        cursors = [value for name, value in parameters if name == CURSOR]
        limits = [value for name, value in parameters if name == LIMIT]
        if len(cursors) > 1 or len(limits) > 1:
            raise InvalidCursor("give cursor and limit once each")
        limit = int(limits[0]) if limits and limits[0].isdigit() else self._spec.default_limit
        if not 1 <= limit <= self._spec.max_limit:
            limit = self._spec.default_limit
        limit, positions = _decode(cursors[0] if cursors else None, self._names, limit)
        others = [(name, value) for name, value in parameters if name not in (CURSOR, LIMIT)]
        reading = [pool for pool in self._names if positions[pool] is not None]

        async def ask(pool: str) -> Answer | DomainError:
            position = positions[pool]
            assert position is not None
            own = [*others, (LIMIT, str(limit))]
            if position.cursor is not None:
                own.append((CURSOR, position.cursor))
            target = f"{path}?{urlencode(own)}"
            try:
                return await self._pools[pool].forward(
                    "GET", target, headers, b"", path=path, retryable=True
                )
            except DomainError as fault:
                return fault

        answers = dict(zip(reading, await asyncio.gather(*map(ask, reading)), strict=True))
        pages: dict[str, _Page] = {}
        incomplete: list[dict[str, str]] = []
        refusal: Answer | None = None
        for pool, answer in answers.items():
            page = _page(answer) if isinstance(answer, Answer) else None
            if isinstance(answer, Answer) and answer.status < 500 and page is None:
                refusal = refusal or answer  # the caller's own mistake: every pool says so
            if page is None:
                code = answer.code if isinstance(answer, DomainError) else "bad_gateway"
                incomplete.append({"pool": pool or "province", "code": code})
                continue
            position = positions[pool]
            assert position is not None
            page.items = page.items[position.skip :]
            pages[pool] = page
        if not pages:
            if refusal is not None:
                return refusal
            first = next(iter(answers.values()), None)
            if isinstance(first, DomainError):
                raise first
            raise InvalidCursor("no pool is left to list")
        items = self._merge(pages, positions, limit)
        body = {ITEMS: items, NEXT_CURSOR: _encode(limit, positions), "incomplete": incomplete}
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        return Answer(200, [(b"content-type", b"application/json")], content)

    def _merge(
        self, pages: dict[str, _Page], positions: dict[str, _Position | None], limit: int
    ) -> list[Any]:
        """Up to ``limit`` items in order; ``positions`` moved past the items handed out."""
        names = self._spec.order_by

        def key(item: Any) -> tuple[str, ...]:
            if not isinstance(item, dict):
                return ("",) * len(names)
            return tuple(str(item.get(name, "")) for name in names)

        pick = max if self._spec.descending else min
        taken = dict.fromkeys(pages, 0)
        merged: list[Any] = []
        while len(merged) < limit:
            heads = [pool for pool, page in pages.items() if taken[pool] < len(page.items)]
            if (
                any(
                    taken[pool] == len(page.items) and page.next_cursor is not None
                    for pool, page in pages.items()
                )
                or not heads
            ):
                break  # a pool's next item is unknown: whatever follows could be its
            pool = pick(heads, key=lambda name: key(pages[name].items[taken[name]]))
            merged.append(pages[pool].items[taken[pool]])
            taken[pool] += 1
        for pool, page in pages.items():
            position = positions[pool]
            assert position is not None
            if taken[pool] == len(page.items):
                positions[pool] = (
                    None if page.next_cursor is None else _Position(page.next_cursor, 0)
                )
            else:
                position.skip += taken[pool]
        return merged
