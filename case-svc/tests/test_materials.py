"""The materials of a case: its applicant (or her delegate) adds files until the case ends, the
handling department's handlers add theirs at any time, and whoever sees the case reads them. A
file is taken for what its first bytes say (PDF, JPEG, PNG), within a size and a count; its
content is sealed before it reaches the store, on the local directory (the default) and on an
S3-compatible store alike.

There is no S3 server on this machine: moto's server (conftest's ``s3_server``) stands in for
the S3-compatible store, and case-svc talks to it over HTTP with the same client (aiobotocore)
it uses in production.
"""

import asyncio
import hashlib
import struct
import uuid
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from case_svc.deps import CaseState
from case_svc.materials.storage import (
    LocalDirectoryStore,
    MaterialContentUnreadable,
    S3Store,
    SealedStore,
    StoredContentMissing,
    open_store,
)
from case_svc.settings import CaseSettings
from servicekit.sealing import Keyring, install
from servicekit.state import app_state
from servicekit.testing import bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Submit = Callable[..., Awaitable[httpx.Response]]

FUND_CENTRE = "330300-housing_provident_fund"
LUCHENG_POLICE = "330302-public_security"


def _png(width: int = 2, height: int = 2) -> bytes:
    """A real PNG: grey pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


SCAN = _png()
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
ID_CARD_COPY = "居民身份证正反面复印件"


def _path(case_no: str, material_id: str | None = None) -> str:
    path = f"/cases/v1/cases/{case_no}/materials"
    return path if material_id is None else f"{path}/{material_id}"


Upload = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
def upload(client: httpx.AsyncClient) -> Upload:
    """POST a material as a multipart form, as the app sends one."""

    async def post(
        token: str,
        case_no: str,
        content: bytes = SCAN,
        *,
        name: str = ID_CARD_COPY,
        filename: str = "scan.png",
        declared_type: str = "image/png",
        key: str | None = None,
    ) -> httpx.Response:
        headers = bearer(token)
        if key is not None:
            headers["Idempotency-Key"] = key
        return await client.post(
            _path(case_no),
            data={"name": name},
            files={"file": (filename, content, declared_type)},
            headers=headers,
        )

    return post


@dataclass(frozen=True)
class People:
    """The applicant, and everyone else who may come to her housing-fund case."""

    applicant: str
    delegate: str
    neighbour: str
    handler: str
    supervisor: str
    system: str
    police_handler: str


@pytest.fixture
def people(resident: str, token_minter: Any) -> People:
    def staff(sub: str, *roles: str, dept: str = FUND_CENTRE) -> str:
        token: str = token_minter.mint(sub, typ="staff", loa=2, dept=dept, roles=roles)
        return token

    return People(
        applicant=resident,
        delegate=token_minter.mint("citizen-lin", act="citizen-son", loa=2),
        neighbour=token_minter.mint("citizen-chen", loa=3, region="330302026003"),
        handler=staff("handler-1", "handler"),
        supervisor=staff("supervisor-1", "supervisor"),
        system=token_minter.mint(
            "ds-fund-core",
            typ="department_system",
            loa=0,
            dept=FUND_CENTRE,
            scope=("cases:read", "cases:write"),
        ),
        police_handler=staff("handler-9", "handler", dept=LUCHENG_POLICE),
    )


@pytest.fixture
async def case_no(submit: Submit, resident: str, catalog: Any) -> str:
    """A housing-fund withdrawal just filed: open, with the Wenzhou fund centre."""
    number: str = (await submit(resident, catalog.fund_withdrawal)).json()["case_no"]
    return number


def _limits(app: FastAPI, **limits: int) -> None:
    """The running app's settings with other material limits."""
    state = app_state(app, CaseState)
    state.settings = state.settings.model_copy(update=limits)


def _stored_files(settings: CaseSettings) -> list[Path]:
    root = settings.var_dir / "materials"
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


# --- uploading and reading ------------------------------------------------------------------------


async def test_the_applicant_uploads_a_scan_and_reads_it_back_with_its_sha256(
    upload: Upload, client: httpx.AsyncClient, people: People, case_no: str
) -> None:
    digest = hashlib.sha256(SCAN).hexdigest()

    uploaded = await upload(people.applicant, case_no)

    assert uploaded.status_code == 201, uploaded.text
    material = uploaded.json()
    assert material == {
        "id": material["id"],
        "kind": "upload",
        "name": ID_CARD_COPY,
        "content_type": "image/png",
        "size": len(SCAN),
        "sha256": digest,
        "uploaded_by": "citizen-lin",
        "uploader_role": "applicant",
        "acting_for": None,
        "uploaded_at": "2026-11-26T02:00:00Z",
    }
    assert uploaded.headers["location"] == _path(case_no, material["id"])
    listed = await client.get(_path(case_no), headers=bearer(people.applicant))
    assert listed.status_code == 200
    assert listed.json() == {"items": [material]}

    downloaded = await client.get(uploaded.headers["location"], headers=bearer(people.applicant))

    assert downloaded.status_code == 200
    assert downloaded.content == SCAN
    assert hashlib.sha256(downloaded.content).hexdigest() == digest
    assert downloaded.headers["content-type"] == "image/png"
    assert downloaded.headers["etag"] == f'"{digest}"'
    assert downloaded.headers["content-disposition"] == (
        f'attachment; filename="{material["id"]}.png"; '
        "filename*=UTF-8''%E5%B1%85%E6%B0%91%E8%BA%AB%E4%BB%BD%E8%AF%81%E6%AD%A3%E5%8F%8D"
        "%E9%9D%A2%E5%A4%8D%E5%8D%B0%E4%BB%B6.png"
    )
    assert downloaded.headers["cache-control"] == "private, no-cache"


async def test_a_copy_still_current_is_not_sent_again(
    upload: Upload, client: httpx.AsyncClient, people: People, case_no: str
) -> None:
    location = (await upload(people.applicant, case_no)).headers["location"]
    etag = f'"{hashlib.sha256(SCAN).hexdigest()}"'

    again = await client.get(
        location, headers={**bearer(people.applicant), "If-None-Match": f'"other", {etag}'}
    )

    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag


@pytest.mark.parametrize(
    ("content", "filename", "declared", "found"),
    [
        (PDF, "application.pdf", "application/pdf", "application/pdf"),
        (JPEG, "photo.jpg", "image/jpeg", "image/jpeg"),
        # Known by its content: a PDF sent as "a picture" is a PDF.
        (PDF, "photo.png", "image/png", "application/pdf"),
        (SCAN, "scan", "application/octet-stream", "image/png"),
    ],
)
async def test_a_file_is_taken_for_what_its_first_bytes_say(
    upload: Upload,
    client: httpx.AsyncClient,
    people: People,
    case_no: str,
    content: bytes,
    filename: str,
    declared: str,
    found: str,
) -> None:
    uploaded = await upload(
        people.applicant, case_no, content, filename=filename, declared_type=declared
    )

    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["content_type"] == found
    downloaded = await client.get(uploaded.headers["location"], headers=bearer(people.applicant))
    assert downloaded.headers["content-type"] == found
    assert downloaded.content == content


async def test_a_text_file_named_png_is_refused_for_its_content(
    upload: Upload,
    client: httpx.AsyncClient,
    people: People,
    case_no: str,
    settings: CaseSettings,
    problem: Problem,
) -> None:
    refused = await upload(people.applicant, case_no, b"just some text, honestly\n")

    body = problem(refused, 415, "material_type_not_allowed")
    assert body["allowed_types"] == ["application/pdf", "image/jpeg", "image/png"]
    assert (await client.get(_path(case_no), headers=bearer(people.applicant))).json() == {
        "items": []
    }
    assert _stored_files(settings) == []


async def test_an_empty_file_is_none_of_the_kinds_a_case_takes(
    upload: Upload, people: People, case_no: str, problem: Problem
) -> None:
    problem(await upload(people.applicant, case_no, b""), 415, "material_type_not_allowed")


async def test_a_file_over_the_size_limit_is_refused_and_one_at_it_is_taken(
    upload: Upload, app: FastAPI, people: People, case_no: str, problem: Problem
) -> None:
    _limits(app, material_max_bytes=1000)
    at_limit = SCAN + b"\x00" * (1000 - len(SCAN))

    refused = await upload(people.applicant, case_no, at_limit + b"\x00")

    assert problem(refused, 413, "material_too_large")["max_bytes"] == 1000
    assert (await upload(people.applicant, case_no, at_limit)).status_code == 201


async def test_the_default_limit_is_ten_mebibytes_and_the_body_limit_makes_room_for_it(
    upload: Upload, people: People, case_no: str, settings: CaseSettings, problem: Problem
) -> None:
    assert settings.material_max_bytes == 10 * 1024 * 1024
    assert settings.max_body_bytes == settings.material_max_bytes + 64 * 1024
    too_large = SCAN + b"\x00" * (settings.material_max_bytes + 1 - len(SCAN))

    problem(await upload(people.applicant, case_no, too_large), 413, "material_too_large")


def test_a_body_limit_set_below_the_largest_material_is_refused() -> None:
    with pytest.raises(ValueError, match="CASE_MAX_BODY_BYTES"):
        CaseSettings(material_max_bytes=2_000_000, max_body_bytes=1_048_576)


async def test_a_case_holds_so_many_materials_and_no_more(
    upload: Upload, app: FastAPI, people: People, case_no: str, problem: Problem
) -> None:
    _limits(app, materials_per_case=2)
    for _ in range(2):
        assert (await upload(people.applicant, case_no)).status_code == 201

    refused = await upload(people.handler, case_no)

    assert problem(refused, 409, "too_many_materials")["max_materials"] == 2


async def test_concurrent_uploads_never_take_a_case_past_its_count(
    upload: Upload, app: FastAPI, people: People, case_no: str, client: httpx.AsyncClient
) -> None:
    _limits(app, materials_per_case=3)

    answers = await asyncio.gather(*(upload(people.applicant, case_no) for _ in range(6)))

    assert sorted(answer.status_code for answer in answers) == [201] * 3 + [409] * 3
    listed = await client.get(_path(case_no), headers=bearer(people.applicant))
    assert len(listed.json()["items"]) == 3


# --- at rest ----------------------------------------------------------------------------------


async def test_the_store_holds_the_content_sealed_never_in_clear(
    upload: Upload, app: FastAPI, people: People, case_no: str, settings: CaseSettings
) -> None:
    material = (await upload(people.applicant, case_no, PDF)).json()

    (stored,) = _stored_files(settings)
    assert stored.name == material["id"]
    held = stored.read_bytes()
    assert held.startswith(b"ov1.")
    assert held != PDF
    assert b"%PDF" not in held
    assert b"Catalog" not in held
    assert stored.stat().st_mode & 0o077 == 0  # this process's user alone
    # Its name is sealed in the database as well.
    async with app_state(app, CaseState).database.sessionmaker() as session:
        name = await session.scalar(text("SELECT name FROM case_material"))
    assert name.startswith("ov1.")
    assert ID_CARD_COPY not in name


async def test_a_sealed_content_moved_to_another_key_does_not_open(tmp_path: Path) -> None:
    install("materials-test", Keyring({"k1": b"\x01" * 32}, "k1"))
    local = LocalDirectoryStore(tmp_path)
    store = SealedStore(local, domain="materials-test")
    await store.put("case-a/material-1", SCAN, "image/png")
    await local.put("case-b/material-2", await local.get("case-a/material-1"), "image/png")

    assert await store.get("case-a/material-1") == SCAN
    with pytest.raises(MaterialContentUnreadable):
        await store.get("case-b/material-2")
    with pytest.raises(StoredContentMissing):
        await store.get("case-c/material-3")


async def test_a_content_changed_behind_the_services_back_is_never_served(
    upload: Upload,
    client: httpx.AsyncClient,
    people: People,
    case_no: str,
    settings: CaseSettings,
    problem: Problem,
) -> None:
    location = (await upload(people.applicant, case_no)).headers["location"]
    (stored,) = _stored_files(settings)
    held = bytearray(stored.read_bytes())
    held[-3] ^= 1
    stored.write_bytes(bytes(held))

    problem(
        await client.get(location, headers=bearer(people.applicant)),
        502,
        "material_content_unreadable",
    )
    stored.unlink()
    problem(
        await client.get(location, headers=bearer(people.applicant)),
        502,
        "material_content_unreadable",
    )


@pytest.mark.parametrize("key", ["../escape", "a/../../b", "/etc/passwd", "a//b", ".hidden", ""])
def test_the_local_store_takes_no_key_that_could_leave_its_directory(
    tmp_path: Path, key: str
) -> None:
    with pytest.raises(ValueError, match="not a material store key"):
        LocalDirectoryStore(tmp_path).path_of(key)


# --- who adds and who reads -----------------------------------------------------------------------


async def test_a_stranger_finds_no_case_to_add_to_or_read(
    upload: Upload,
    client: httpx.AsyncClient,
    people: People,
    case_no: str,
    problem: Problem,
) -> None:
    location = (await upload(people.applicant, case_no)).headers["location"]

    for caller in (people.neighbour, people.police_handler):
        problem(await upload(caller, case_no), 404, "case_not_found")
        # Whatever the file: the case is settled before the file is looked at.
        problem(await upload(caller, case_no, b"not a picture"), 404, "case_not_found")
        problem(await client.get(_path(case_no), headers=bearer(caller)), 404, "case_not_found")
        problem(await client.get(location, headers=bearer(caller)), 404, "case_not_found")


async def test_staff_of_the_department_read_the_applicants_materials_and_add_their_own(
    upload: Upload, client: httpx.AsyncClient, people: People, case_no: str
) -> None:
    hers = (await upload(people.applicant, case_no)).json()
    theirs = await upload(people.handler, case_no, PDF, name="核查记录")
    assert theirs.status_code == 201
    assert theirs.json()["uploaded_by"] == "handler-1"
    assert theirs.json()["uploader_role"] == "handler"

    for reader in (people.handler, people.supervisor, people.system):
        listed = await client.get(_path(case_no), headers=bearer(reader))
        assert listed.status_code == 200
        assert [item["uploaded_by"] for item in listed.json()["items"]] == [
            "citizen-lin",
            "handler-1",
        ]
        downloaded = await client.get(_path(case_no, hers["id"]), headers=bearer(reader))
        assert downloaded.content == SCAN

    # The applicant sees the handler's file, and the handler by their part only.
    mine = (await client.get(_path(case_no), headers=bearer(people.applicant))).json()["items"]
    assert [(item["uploaded_by"], item["uploader_role"]) for item in mine] == [
        ("citizen-lin", "applicant"),
        (None, "handler"),
    ]
    downloaded = await client.get(
        _path(case_no, theirs.json()["id"]), headers=bearer(people.applicant)
    )
    assert downloaded.content == PDF


async def test_supervisors_and_systems_read_materials_but_do_not_add_them(
    upload: Upload, people: People, case_no: str, problem: Problem
) -> None:
    for reader in (people.supervisor, people.system):
        problem(await upload(reader, case_no), 403, "material_upload_not_allowed")


async def test_a_delegate_adds_a_file_for_the_applicant(
    upload: Upload, people: People, case_no: str
) -> None:
    uploaded = await upload(people.delegate, case_no)

    assert uploaded.status_code == 201
    assert uploaded.json()["uploaded_by"] == "citizen-son"
    assert uploaded.json()["acting_for"] == "citizen-lin"
    assert uploaded.json()["uploader_role"] == "applicant"


async def test_after_the_case_ended_the_applicant_adds_nothing_and_its_handler_still_may(
    upload: Upload,
    submit: Submit,
    client: httpx.AsyncClient,
    people: People,
    catalog: Any,
    problem: Problem,
) -> None:
    # A loss report is an instant item: completed the moment it is filed.
    filed = (await submit(people.applicant, catalog.loss_report)).json()
    assert filed["status"] == "completed"

    refused = await upload(people.applicant, filed["case_no"])

    assert problem(refused, 409, "materials_closed")["case_status"] == "completed"
    problem(await upload(people.delegate, filed["case_no"]), 409, "materials_closed")
    assert (await upload(people.police_handler, filed["case_no"], PDF)).status_code == 201
    listed = await client.get(_path(filed["case_no"]), headers=bearer(people.applicant))
    assert [item["uploader_role"] for item in listed.json()["items"]] == ["handler"]


async def test_a_material_is_read_through_its_own_case_only(
    upload: Upload,
    submit: Submit,
    client: httpx.AsyncClient,
    people: People,
    case_no: str,
    catalog: Any,
    problem: Problem,
) -> None:
    material = (await upload(people.applicant, case_no)).json()
    other = (await submit(people.applicant, catalog.fund_withdrawal)).json()["case_no"]

    problem(
        await client.get(_path(other, material["id"]), headers=bearer(people.applicant)),
        404,
        "material_not_found",
    )
    problem(
        await client.get(_path(case_no, str(uuid.uuid4())), headers=bearer(people.applicant)),
        404,
        "material_not_found",
    )


# --- retries --------------------------------------------------------------------------------------


async def test_a_retry_of_the_same_form_answers_the_same_material(
    client: httpx.AsyncClient, people: People, case_no: str, problem: Problem
) -> None:
    key = str(uuid.uuid4())

    def form(boundary: str, content: bytes) -> tuple[bytes, dict[str, str]]:
        body = (
            (
                f"--{boundary}\r\n"
                'Content-Disposition: form-data; name="name"\r\n\r\n'
                f"{ID_CARD_COPY}\r\n"
                f"--{boundary}\r\n"
                'Content-Disposition: form-data; name="file"; filename="scan.png"\r\n'
                "Content-Type: image/png\r\n\r\n"
            ).encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {
            **bearer(people.applicant),
            "Idempotency-Key": key,
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        }
        return body, headers

    first_body, first_headers = form("first-attempt-7f3a", SCAN)
    first = await client.post(_path(case_no), content=first_body, headers=first_headers)
    # The app draws a new boundary for its retry: the same form all the same.
    retry_body, retry_headers = form("retry-attempt-91c2", SCAN)
    retry = await client.post(_path(case_no), content=retry_body, headers=retry_headers)
    other_body, other_headers = form("another-file-5d0e", PDF)
    other = await client.post(_path(case_no), content=other_body, headers=other_headers)

    assert first.status_code == 201, first.text
    assert retry.status_code == 201
    assert retry.headers["idempotency-replayed"] == "true"
    assert retry.json() == first.json()
    assert retry.headers["location"] == first.headers["location"]
    problem(other, 422, "idempotency_key_reused")
    listed = await client.get(_path(case_no), headers=bearer(people.applicant))
    assert len(listed.json()["items"]) == 1


async def test_a_form_without_its_file_or_name_is_refused_field_by_field(
    client: httpx.AsyncClient, people: People, case_no: str, problem: Problem
) -> None:
    refused = await client.post(
        _path(case_no),
        data={"label": "x"},
        files={"other": ("a.png", SCAN, "image/png")},
        headers=bearer(people.applicant),
    )

    body = problem(refused, 422, "validation_failed")
    assert {error["field"] for error in body["errors"]} == {"body.file", "body.name"}


# --- on an S3-compatible store ------------------------------------------------------------------


class TestOnAnS3CompatibleStore:
    @pytest.fixture
    def settings(self, settings: CaseSettings, s3_server: Any, s3_bucket: str) -> CaseSettings:
        return s3_server.settings(settings, s3_bucket)

    async def test_a_material_goes_to_the_bucket_sealed_and_comes_back_clear(
        self,
        upload: Upload,
        client: httpx.AsyncClient,
        people: People,
        case_no: str,
        settings: CaseSettings,
        s3_server: Any,
    ) -> None:
        uploaded = await upload(people.applicant, case_no, PDF, filename="application.pdf")
        assert uploaded.status_code == 201, uploaded.text

        downloaded = await client.get(uploaded.headers["location"], headers=bearer(people.handler))

        assert downloaded.status_code == 200
        assert downloaded.content == PDF
        assert downloaded.headers["etag"] == f'"{hashlib.sha256(PDF).hexdigest()}"'
        assert _stored_files(settings) == []  # nothing on the local disk
        async with s3_server.client() as raw:
            listed = await raw.list_objects_v2(Bucket=settings.s3_bucket)
            (entry,) = listed["Contents"]
            assert entry["Key"].endswith(f"/{uploaded.json()['id']}")
            answer = await raw.get_object(Bucket=settings.s3_bucket, Key=entry["Key"])
            async with answer["Body"] as body:
                held = await body.read()
            assert answer["ContentType"] == "application/octet-stream"
        assert held.startswith(b"ov1.")
        assert b"%PDF" not in held

    async def test_the_store_puts_gets_and_deletes_by_key(
        self, settings: CaseSettings, app: FastAPI
    ) -> None:
        async with open_store(settings) as store:
            assert isinstance(store, SealedStore)
            assert isinstance(store.inner, S3Store)
            await store.put("case-1/material-1", JPEG, "image/jpeg")
            assert await store.get("case-1/material-1") == JPEG
            await store.delete("case-1/material-1")
            with pytest.raises(StoredContentMissing):
                await store.get("case-1/material-1")
            await store.delete("case-1/material-1")  # gone already: no error


class TestWithTheS3StoreUnreachable:
    @pytest.fixture
    def settings(self, settings: CaseSettings, unreachable_s3_server: Any) -> CaseSettings:
        return unreachable_s3_server.settings(settings, "case-materials")

    async def test_an_upload_is_answered_service_unavailable_and_leaves_nothing(
        self,
        upload: Upload,
        client: httpx.AsyncClient,
        people: People,
        case_no: str,
        problem: Problem,
    ) -> None:
        refused = await upload(people.applicant, case_no)

        problem(refused, 503, "material_store_unavailable")
        assert refused.headers["retry-after"] == "5"
        listed = await client.get(_path(case_no), headers=bearer(people.applicant))
        assert listed.json() == {"items": []}
