"""Sealing personal data at rest: envelope encryption per value, bound to its column (or to its
row), readable under every key of the keyring, rotated by rewrapping; values a service sealed
before key ids read with its own opener until rewrapping seals them again."""

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import JSON, String, Text, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servicekit import sealing
from servicekit.db import create_engine, new_metadata
from servicekit.sealing import (
    Keyring,
    RowBinding,
    SealedForRow,
    SealedJSON,
    SealedText,
    UnsealableValue,
    open_for_row,
    rewrap,
    seal_for_row,
)
from servicekit.testing import POSTGRES_ENV

OLD = Keyring({"2026-11": b"o" * 32}, "2026-11")
BOTH = Keyring({"2026-11": b"o" * 32, "2026-12": b"n" * 32}, "2026-12")
FORM = {"name": "林秀英", "id_number": "330302195203140248", "phone": "13957700000"}


def test_a_sealed_value_opens_only_in_its_own_column() -> None:
    sealed = OLD.seal(b"330302195203140248", context="case:case.form")
    assert "330302195203140248" not in sealed
    assert OLD.open(sealed, context="case:case.form") == b"330302195203140248"
    with pytest.raises(UnsealableValue):
        OLD.open(sealed, context="rating:rating.comment")


def test_a_tampered_value_or_a_missing_key_does_not_open() -> None:
    sealed = OLD.seal(b"secret", context="c")
    head, body = sealed.rsplit(".", 1)
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(UnsealableValue):
        OLD.open(f"{head}.{flipped}", context="c")
    with pytest.raises(UnsealableValue):
        Keyring({"other": b"x" * 32}, "other").open(sealed, context="c")


def test_rewrapping_moves_the_data_key_not_the_data() -> None:
    sealed = OLD.seal(b"secret", context="c")
    moved = BOTH.rewrap(sealed, context="c")
    assert moved.split(".")[1] == "2026-12"
    assert moved.rsplit(".", 1)[1] == sealed.rsplit(".", 1)[1]  # the same ciphertext
    assert Keyring({"2026-12": b"n" * 32}, "2026-12").open(moved, context="c") == b"secret"
    assert BOTH.rewrap(moved, context="c") == moved


class _Base(DeclarativeBase):
    metadata = new_metadata()


class _Case(_Base):
    __tablename__ = "sealed_case"

    case_no: Mapped[str] = mapped_column(String(32), primary_key=True)
    form: Mapped[dict[str, Any]] = mapped_column(SealedJSON("sealing-tests", "case.form"))
    note: Mapped[str | None] = mapped_column(SealedText("sealing-tests", "case.note"))


@pytest_asyncio.fixture(
    params=["sqlite", "postgresql"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]
)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = (
        f"sqlite+aiosqlite:///{tmp_path / 'sealed.db'}"
        if request.param == "sqlite"
        else os.environ[POSTGRES_ENV]
    )
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(_Base.metadata.drop_all)
        await connection.run_sync(_Base.metadata.create_all)
    yield engine
    async with engine.begin() as connection:
        await connection.run_sync(_Base.metadata.drop_all)
    await engine.dispose()


async def _stored(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(type_coerce(_Case.form, JSON()), type_coerce(_Case.note, Text()))
        )
        return [value for row in rows for value in row]


async def test_the_database_holds_no_clear_value_and_the_rows_read_as_written(
    engine: AsyncEngine,
) -> None:
    sealing.install("sealing-tests", OLD)
    async with engine.begin() as connection:
        await connection.execute(
            _Case.__table__.insert(), [{"case_no": "c1", "form": FORM, "note": "林秀英来电"}]
        )
    stored = await _stored(engine)
    assert all(sealing.is_sealed(value) for value in stored)
    assert not any(text in str(stored) for text in ("林秀英", "330302195203140248", "13957700000"))
    async with engine.connect() as connection:
        row = (await connection.execute(select(_Case.form, _Case.note))).one()
    assert (row.form, row.note) == (FORM, "林秀英来电")


async def test_rewrap_rotates_every_value_and_seals_those_written_in_clear(
    engine: AsyncEngine,
) -> None:
    sealing.install("sealing-tests", OLD)
    async with engine.begin() as connection:
        await connection.execute(_Case.__table__.insert(), [{"case_no": "c1", "form": FORM}])
        # A row from before the column was sealed: in clear, still read as it is.
        await connection.execute(
            _Case.__table__.insert().values(
                case_no="c2", form=type_coerce(FORM, JSON()), note=type_coerce("旧备注", Text())
            )
        )
    async with engine.begin() as connection:
        assert await rewrap(connection, _Base.metadata, BOTH) == 3
    async with engine.begin() as connection:
        assert await rewrap(connection, _Base.metadata, BOTH) == 0
    stored = await _stored(engine)
    assert {value.split(".")[1] for value in stored if value is not None} == {"2026-12"}
    sealing.install("sealing-tests", Keyring({"2026-12": b"n" * 32}, "2026-12"))
    async with engine.connect() as connection:
        forms = (
            await connection.execute(select(_Case.form, _Case.note).order_by(_Case.case_no))
        ).all()
    assert [tuple(row) for row in forms] == [(FORM, None), (FORM, "旧备注")]


# Values sealed for their row.

LEGACY_KEY = b"l" * 32


def _legacy_seal(plain: bytes, binding: RowBinding) -> bytes:
    """A service's own single-key format from before key ids: nonce, then ciphertext."""
    nonce = os.urandom(12)
    aad = ":".join((binding.what, *binding.row)).encode()
    return nonce + AESGCM(LEGACY_KEY).encrypt(nonce, plain, aad)


def _legacy_open(stored: bytes, binding: RowBinding) -> bytes:
    aad = ":".join((binding.what, *binding.row)).encode()
    try:
        return AESGCM(LEGACY_KEY).decrypt(stored[:12], stored[12:], aad)
    except InvalidTag as exc:
        raise UnsealableValue("a value sealed before key ids fails authentication") from exc


class _Person(_Base):
    __tablename__ = "sealed_person"

    person_no: Mapped[str] = mapped_column(String(32), primary_key=True)
    phone: Mapped[bytes | None] = mapped_column(
        SealedForRow("sealing-tests", "phone", bound_to=("person_no",))
    )


def _phone_of(person_no: str) -> RowBinding:
    return RowBinding("phone", (person_no,))


def test_a_value_sealed_for_its_row_opens_in_that_row_only() -> None:
    sealing.install("sealing-tests", OLD)
    sealed = seal_for_row("sealing-tests", _phone_of("p1"), b"13957700000")
    assert sealed.startswith(b"ov1.2026-11.")
    assert b"13957700000" not in sealed
    assert open_for_row("sealing-tests", _phone_of("p1"), sealed) == b"13957700000"
    with pytest.raises(UnsealableValue):
        open_for_row("sealing-tests", _phone_of("p2"), sealed)
    with pytest.raises(UnsealableValue):
        open_for_row("sealing-tests", RowBinding("name", ("p1",)), sealed)


def test_a_value_sealed_before_key_ids_opens_only_with_the_services_legacy_opener() -> None:
    old = _legacy_seal(b"13957700000", _phone_of("p1"))
    sealing.install("sealing-tests", OLD)
    with pytest.raises(UnsealableValue) as refused:
        open_for_row("sealing-tests", _phone_of("p1"), old)
    assert "13957700000" not in str(refused.value)
    sealing.install("sealing-tests", OLD, legacy=_legacy_open)
    assert open_for_row("sealing-tests", _phone_of("p1"), old) == b"13957700000"
    with pytest.raises(UnsealableValue):
        open_for_row("sealing-tests", _phone_of("p2"), old)


async def _stored_phones(engine: AsyncEngine) -> dict[str, bytes]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(_Person.person_no, _Person.phone))
        return {row.person_no: row.phone for row in rows}


async def test_rewrap_seals_the_values_of_before_key_ids_and_rotates_those_sealed_for_a_row(
    engine: AsyncEngine,
) -> None:
    sealing.install("sealing-tests", OLD, legacy=_legacy_open)
    phones = {"p1": b"13957700001", "p2": b"13957700002", "p3": b"13957700003"}
    async with engine.begin() as connection:
        await connection.execute(
            _Person.__table__.insert(),
            [
                {
                    "person_no": "p1",
                    "phone": seal_for_row("sealing-tests", _phone_of("p1"), phones["p1"]),
                },
                {"person_no": "p2", "phone": _legacy_seal(phones["p2"], _phone_of("p2"))},
                {"person_no": "p3", "phone": None},
                {"person_no": "p4", "phone": b""},
            ],
        )
    # Without the service's opener, what it sealed before key ids is refused, not skipped.
    with pytest.raises(UnsealableValue):
        async with engine.begin() as connection:
            await rewrap(connection, _Base.metadata, BOTH)
    async with engine.begin() as connection:
        assert await rewrap(connection, _Base.metadata, BOTH, legacy=_legacy_open) == 2
    async with engine.begin() as connection:
        assert await rewrap(connection, _Base.metadata, BOTH, legacy=_legacy_open) == 0
    stored = await _stored_phones(engine)
    assert stored["p3"] is None
    assert stored["p4"] == b""
    assert {stored[no].split(b".")[1] for no in ("p1", "p2")} == {b"2026-12"}
    # Under the new key alone, with no legacy opener: every value opens, in its own row only.
    sealing.install("sealing-tests", Keyring({"2026-12": b"n" * 32}, "2026-12"))
    for no in ("p1", "p2"):
        assert open_for_row("sealing-tests", _phone_of(no), stored[no]) == phones[no]
    with pytest.raises(UnsealableValue):
        open_for_row("sealing-tests", _phone_of("p1"), stored["p2"])
