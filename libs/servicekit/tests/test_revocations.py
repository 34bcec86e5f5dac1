"""The kit's revocation list: what it refuses (a session's tokens issued up to a time, a
client's of older secrets or all of them), how entries merge and run out, and how it follows a
publisher that may fail."""

import asyncio
import time
from typing import Any

import pytest

from servicekit.auth import Principal, TokenRevoked, TokenVerifier
from servicekit.revocations import (
    Revocation,
    RevocationList,
    RevocationPage,
    page_from_json,
)
from servicekit.testing import TokenMinter

NOW = 1_800_000_000.0


def at(now: float = NOW) -> RevocationList:
    return RevocationList(clock=lambda: now)


def citizen(sid: str, iat: int) -> Principal:
    return Principal(sub="c-1", typ="citizen", loa=1, sid=sid, iat=iat, token="t")


def client(sub: str, iat: int, sgen: int | None) -> Principal:
    return Principal(sub=sub, typ="department_system", loa=0, iat=iat, sgen=sgen, token="t")


def session_entry(sid: str, up_to: int, expires_at: float = NOW + 600) -> Revocation:
    return Revocation(kind="session", id=sid, issued_up_to=up_to, expires_at=expires_at)


def client_entry(sub: str, up_to: int, below: int | None) -> Revocation:
    return Revocation(
        kind="client", id=sub, issued_up_to=up_to, expires_at=NOW + 600, generations_below=below
    )


@pytest.mark.parametrize(
    ("principal", "refused"),
    [
        (citizen("s-1", int(NOW) - 10), True),
        (citizen("s-1", int(NOW)), True),  # the same second: covered
        (citizen("s-1", int(NOW) + 1), False),  # issued after (a refresh after a role change)
        (citizen("s-2", int(NOW) - 10), False),
        (client("ds-a", int(NOW) - 10, 1), True),
        (client("ds-a", int(NOW) - 10, None), True),  # a token from before generations
        (client("ds-a", int(NOW) - 10, 2), False),
        (client("ds-b", int(NOW) - 10, 9), True),  # disabled: every generation
        (client("ds-b", int(NOW) + 1, 9), False),
        (client("ds-c", int(NOW) - 10, 1), False),
    ],
)
def test_an_entry_covers_the_tokens_it_names_and_no_other(
    principal: Principal, refused: bool
) -> None:
    revocations = at()
    revocations.apply(
        [
            session_entry("s-1", int(NOW)),
            client_entry("ds-a", int(NOW), 2),
            client_entry("ds-b", int(NOW), None),
        ]
    )
    assert revocations.refuses(principal) is refused


def test_a_citizen_whose_account_id_looks_like_a_client_id_is_not_a_client() -> None:
    revocations = at()
    revocations.apply([client_entry("c-1", int(NOW), None)])
    assert not revocations.refuses(citizen("s-9", int(NOW) - 10))


def test_entries_merge_and_run_out() -> None:
    revocations = at()
    revocations.apply([client_entry("ds-a", int(NOW) - 100, 2), client_entry("ds-a", int(NOW), 3)])
    assert revocations.refuses(client("ds-a", int(NOW) - 50, 2))
    revocations.apply([client_entry("ds-a", int(NOW) - 200, None)])
    assert revocations.refuses(client("ds-a", int(NOW) - 50, 7))  # disabled covers them all
    assert len(revocations) == 1

    later = RevocationList(clock=lambda: NOW + 601)
    later.apply([session_entry("s-1", int(NOW)), session_entry("s-2", int(NOW), NOW + 900)])
    assert len(later) == 1
    assert not later.refuses(citizen("s-1", int(NOW) - 10))


def test_the_feed_is_read_and_anything_else_refused() -> None:
    page = page_from_json(
        {
            "items": [
                {
                    "kind": "session",
                    "id": "s-1",
                    "issued_up_to": int(NOW),
                    "generations_below": None,
                    "expires_at": "2027-01-15T08:00:00+00:00",
                }
            ],
            "next_cursor": "c-1",
        }
    )
    assert page.next_cursor == "c-1"
    assert page.entries[0].id == "s-1"
    for malformed in ({"items": [{"kind": "session"}]}, {"items": [{"kind": "x"}]}, [], None):
        with pytest.raises(ValueError):  # noqa: PT011 - any malformed feed, one error
            page_from_json(malformed)


async def test_following_keeps_the_list_through_a_failure_and_then_asks_for_all_of_it() -> None:
    revocations = RevocationList()
    asked: list[str | None] = []
    answers: list[Any] = [
        RevocationPage([session_entry("s-1", int(NOW), expires_at=4e9)], "c-1"),
        RuntimeError("identity-svc is away"),
        RevocationPage([], "c-2"),
    ]

    async def source(cursor: str | None) -> RevocationPage:
        asked.append(cursor)  # the first four answers as listed, then nothing new
        answer = answers[min(len(asked), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        page: RevocationPage = answer
        return page

    follower = asyncio.create_task(revocations.follow(source, every_seconds=0.01))
    await asyncio.sleep(0.2)  # some twenty polls
    follower.cancel()
    assert asked[:4] == [None, "c-1", None, "c-2"]
    assert revocations.refuses(citizen("s-1", int(NOW)))


async def test_the_verifier_refuses_a_revoked_token_even_from_its_cache() -> None:
    minter = TokenMinter()
    revocations = RevocationList()
    verifier = TokenVerifier(
        minter.jwks,
        issuer="http://127.0.0.1:8000/identity/v1",
        audience="onevisit",
        revocations=revocations,
    )
    now = int(time.time())
    token = minter.mint("c-1", sid="s-1", issued_at=now - 10)
    await verifier.verify(token)  # cached
    revocations.apply([session_entry("s-1", now, expires_at=now + 600)])
    with pytest.raises(TokenRevoked):
        await verifier.verify(token)
