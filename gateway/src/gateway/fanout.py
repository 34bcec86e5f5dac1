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
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from gateway.messages import Answer
from gateway.routing import FanOut
from gateway.upstreams import UpstreamPool
from servicekit.pagination import Cursors, InvalidCursor
from servicekit.problems import DomainError, ValidationFailed

#: The query parameters and body members the listing services share.
CURSOR, LIMIT, ITEMS, NEXT_CURSOR = "cursor", "limit", "items", "next_cursor"


def _limit(given: str | None, *, default: int, maximum: int) -> int:
    """The kit's rule for ``limit`` (``servicekit.pagination.page_size``), read from the query
    string: at least 1, the default when absent, the maximum when more is asked."""
    if given is None:
        return default
    digits = given.lstrip("0")
    if not given.isascii() or not given.isdecimal() or not digits:
        raise ValidationFailed(
            "query.limit: give a whole number of at least 1",
            errors=[{"field": "query.limit", "message": "must be at least 1", "type": "limit"}],
        )
    # More digits than any maximum has: no need to read them all.
    return maximum if len(digits) > 9 else min(int(digits), maximum)


@dataclass(slots=True)
class _Position:
    #: The pool's own cursor of the page being read (None: its first page).
    cursor: str | None
    #: How many items of that page were handed out already.
    skip: int


def _decode(
    cursors: Cursors, context: str, cursor: str | None, pools: Sequence[str], limit: int
) -> tuple[int, dict[str, _Position | None]]:
    """The page size and, per pool, where it stands (None: all its items were handed out).
    The size is the first page's: positions count items of pages of that size. The cursor is
    the gateway's own, signed: what it holds was written here."""
    state = cursors.decode_optional(context, cursor)
    if state is None:
        return limit, {pool: _Position(None, 0) for pool in pools}
    held = state["p"]
    if set(held) != set(pools):  # the routing table changed since: start again
        raise InvalidCursor("the list's instances changed; start from the first page")
    positions = {
        pool: None if held[pool] is None else _Position(held[pool][0], held[pool][1])
        for pool in pools
    }
    return state["l"], positions


def _encode(
    cursors: Cursors, context: str, limit: int, positions: dict[str, _Position | None]
) -> str | None:
    if all(position is None for position in positions.values()):
        return None
    state = {
        "l": limit,
        "p": {
            pool: None if position is None else [position.cursor, position.skip]
            for pool, position in positions.items()
        },
    }
    return cursors.encode(context, state)


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
    def __init__(self, spec: FanOut, pools: Mapping[str, UpstreamPool], cursors: Cursors) -> None:
        self._spec = spec
        self._pools = pools
        self._names = sorted(pools)
        self._cursors = cursors

    async def __call__(
        self, path: str, query: bytes, headers: list[tuple[bytes, bytes]], *, caller: str
    ) -> Answer:
        """``caller``: who lists (the token's subject): a combined cursor holds for the caller
        and the list it was handed out for, as a service's own cursors do."""
        parameters = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        cursors = [value for name, value in parameters if name == CURSOR]
        limits = [value for name, value in parameters if name == LIMIT]
        if len(cursors) > 1 or len(limits) > 1:
            raise InvalidCursor("give cursor and limit once each")
        limit = _limit(
            limits[0] if limits else None,
            default=self._spec.default_limit,
            maximum=self._spec.max_limit,
        )
        context = f"fan-out:{path}:{caller}"
        limit, positions = _decode(
            self._cursors, context, cursors[0] if cursors else None, self._names, limit
        )
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
        next_cursor = _encode(self._cursors, context, limit, positions)
        body = {ITEMS: items, NEXT_CURSOR: next_cursor, "incomplete": incomplete}
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
