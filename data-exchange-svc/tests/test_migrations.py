"""Upgrading a ledger recorded under the old hash chain: its entries become the tree's first
leaves, hashed exactly as the service hashes them."""

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

from data_exchange_svc.ledger.verify import audit_database

SERVICE_DIR = Path(__file__).resolve().parents[1]


def alembic(url: str, *arguments: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(SERVICE_DIR / "alembic.ini"), *arguments],
        env={"EXCHANGE_DATABASE_URL": url, "PATH": ""},
        check=True,
        capture_output=True,
    )


def test_entries_of_the_hash_chain_become_the_first_leaves_of_the_tree(tmp_path: Path) -> None:
    path = tmp_path / "exchange.db"
    url = f"sqlite+aiosqlite:///{path}"
    alembic(url, "upgrade", "6a54e33e8ca7")
    with sqlite3.connect(path) as connection:
        for seq in (1, 2, 3):
            connection.execute(
                "INSERT INTO ledger_entry VALUES (?, ?, ?, 'call', 'identity-svc', 'identity-svc',"
                " 'population', '[\"name\"]', 'real_name_verification', NULL, ?, 'allowed',"
                " NULL, '00', '11')",
                (seq, f"{seq:032x}", f"2026-11-26 09:00:0{seq}.123456", "cd" * 32),
            )
    alembic(url, "upgrade", "head")
    report = asyncio.run(audit_database(url))
    assert (report["intact"], report["entries_checked"]) == (True, 3)
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE ledger_entry SET purpose = 'audit' WHERE seq = 2")
    report = asyncio.run(audit_database(url))
    assert (report["first_broken_seq"], report["reason"]) == (2, "leaf_mismatch")
