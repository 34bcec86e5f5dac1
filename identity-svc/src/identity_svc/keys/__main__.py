"""Manage token-signing keys from the command line, with the service's settings:

    python -m identity_svc.keys rotate   # a new key signs; the previous stays published
    python -m identity_svc.keys list     # every key: created, superseded, retired, published

Running instances pick up a rotation within ``IDENTITY_SIGNING_KEY_RELOAD_SECONDS``; the
previous key stays in the JWKS for ``signing_key_grace_seconds``, so no live token fails.
"""

import argparse
import asyncio
import datetime as dt
import sys
from collections.abc import Sequence

from identity_svc.keys import repository
from identity_svc.keys.service import rotate_signing_key
from identity_svc.settings import IdentitySettings
from servicekit.db import Database, utcnow


async def rotate(settings: IdentitySettings) -> str:
    database = Database(settings.database_url)
    try:
        async with database.sessionmaker.begin() as session:
            key = await rotate_signing_key(
                session,
                settings.key_encryption_key_bytes,
                now=utcnow(),
                grace=dt.timedelta(seconds=settings.signing_key_grace_seconds),
            )
        return key.kid
    finally:
        await database.dispose()


async def describe(settings: IdentitySettings) -> list[str]:
    database = Database(settings.database_url)
    now = utcnow()
    grace = dt.timedelta(seconds=settings.signing_key_grace_seconds)
    try:
        async with database.sessionmaker() as session:
            published = {
                key.kid for key in await repository.published(session, now=now, grace=grace)
            }
            keys = await repository.all_keys(session)
    finally:
        await database.dispose()
    return [
        "\t".join(
            [
                key.kid,
                f"created={key.created_at.isoformat()}",
                f"superseded={key.superseded_at.isoformat() if key.superseded_at else '-'}",
                f"retired={key.retired_at.isoformat() if key.retired_at else '-'}",
                "published" if key.kid in published else "unpublished",
            ]
        )
        for key in keys
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m identity_svc.keys", description=__doc__)
    parser.add_argument("command", choices=["rotate", "list"])
    arguments = parser.parse_args(argv)
    settings = IdentitySettings()
    if arguments.command == "rotate":
        kid = asyncio.run(rotate(settings))
        print(f"rotated: {kid} signs from now on")
    else:
        for line in asyncio.run(describe(settings)):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
