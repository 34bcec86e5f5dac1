"""The housekeeping of the material store, on the local directory and on an S3-compatible store
(moto's server), each on every database backend: the sweep removes what no material refers to
once past its grace period and reports the materials whose content is missing, keeping them;
the rewrap moves every content to the current sealing key, so that after a rotation the old key
can go. Both run as the operator runs them (``python -m case_svc.materials``) and in process.

An object without its material is made here as a crash between an upload's write and its commit
leaves it: written to the store, with no row.
"""

import asyncio
import base64
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from case_svc.cases.repository import case_by_number
from case_svc.deps import CaseState
from case_svc.materials.housekeeping import (
    ListingOutOfOrder,
    MissingContent,
    rewrap_store,
    sweep,
)
from case_svc.materials.storage import (
    LocalDirectoryStore,
    ObjectStore,
    SealedStore,
    StoredObject,
    sealing_key_id_of,
)
from case_svc.settings import CaseSettings
from servicekit.db import utcnow
from servicekit.sealing import Keyring, install
from servicekit.state import app_state
from servicekit.testing import (
    bearer,
    operator_environment,
    rewrap_as_an_operator,
    run_as_an_operator,
)

Submit = Callable[..., Awaitable[httpx.Response]]
Problem = Callable[[httpx.Response, int, str], dict[str, Any]]

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
GRACE = dt.timedelta(hours=1)
NEW_KEY_ID = "2027-01"
NEW_KEY = base64.b64encode(b"n" * 32).decode()


@pytest.fixture(params=["local", "s3"])
def store_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest_asyncio.fixture(loop_scope="session")
async def settings(
    settings: CaseSettings, store_kind: str, request: pytest.FixtureRequest
) -> CaseSettings:
    if store_kind == "local":
        return settings
    server = request.getfixturevalue("s3_server")
    bucket = f"case-materials-{uuid.uuid4().hex[:12]}"
    async with server.client() as client:
        await client.create_bucket(Bucket=bucket)
    with_s3: CaseSettings = server.settings(settings, bucket)
    return with_s3


@pytest.fixture
def store(app: FastAPI) -> SealedStore:
    sealed = app_state(app, CaseState).material_store
    assert isinstance(sealed, SealedStore)
    return sealed


@pytest.fixture
def objects(store: SealedStore) -> ObjectStore:
    """The store as it holds the contents, sealed."""
    return store.inner


@pytest.fixture
async def case_no(submit: Submit, resident: str, catalog: Any) -> str:
    number: str = (await submit(resident, catalog.fund_withdrawal)).json()["case_no"]
    return number


async def _upload(
    client: httpx.AsyncClient, token: str, case_no: str, content: bytes = PDF
) -> dict[str, Any]:
    uploaded = await client.post(
        f"/cases/v1/cases/{case_no}/materials",
        data={"name": "租房合同"},
        files={"file": ("lease.pdf", content, "application/octet-stream")},
        headers=bearer(token),
    )
    assert uploaded.status_code == 201, uploaded.text
    material: dict[str, Any] = uploaded.json()
    return material


async def _keys(objects: ObjectStore) -> list[str]:
    return [stored.key async for stored in objects.objects()]


async def _crashed_upload(
    app: FastAPI, store: SealedStore, case_no: str, material_id: uuid.UUID | None = None
) -> str:
    """What an upload whose transaction never committed leaves: its content, sealed, under a
    key made as the service makes one (the case's id, a new material's), and no row."""
    async with app_state(app, CaseState).database.sessionmaker() as session:
        case = await case_by_number(session, case_no)
    assert case is not None
    key = f"{case.id}/{material_id or uuid.uuid4()}"
    await store.put(key, JPEG, "image/jpeg")
    return key


async def _sweep(app: FastAPI, objects: ObjectStore, *, now: dt.datetime, **options: Any) -> Any:
    async with app_state(app, CaseState).database.sessionmaker() as session:
        return await sweep(session, objects, now=now, grace=GRACE, **options)


# --- the sweep ------------------------------------------------------------------------------------


async def test_an_object_no_material_refers_to_is_swept_once_past_its_grace_period(
    app: FastAPI,
    client: httpx.AsyncClient,
    store: SealedStore,
    objects: ObjectStore,
    resident: str,
    case_no: str,
) -> None:
    material = await _upload(client, resident, case_no)
    orphan = await _crashed_upload(app, store, case_no)
    kept = f"{material['id']}"

    # Within the grace period it may be an upload in flight: left.
    early = await _sweep(app, objects, now=utcnow())

    assert (early.removed, early.young, early.missing) == ([], 1, [])
    assert orphan in await _keys(objects)

    late = await _sweep(app, objects, now=utcnow() + GRACE + dt.timedelta(minutes=1))

    assert (late.removed, late.young, late.missing) == ([orphan], 0, [])
    [left] = await _keys(objects)
    assert left.endswith(f"/{kept}")
    downloaded = await client.get(
        f"/cases/v1/cases/{case_no}/materials/{kept}", headers=bearer(resident)
    )
    assert downloaded.content == PDF
    # Run again (or on another machine at the same time): nothing left to do.
    again = await _sweep(app, objects, now=utcnow() + GRACE + dt.timedelta(minutes=1))
    assert (again.removed, again.young, again.missing) == ([], 0, [])


async def test_a_dry_run_tells_what_it_would_remove_and_removes_nothing(
    app: FastAPI, store: SealedStore, objects: ObjectStore, case_no: str
) -> None:
    orphan = await _crashed_upload(app, store, case_no)

    report = await _sweep(
        app, objects, now=utcnow() + GRACE + dt.timedelta(minutes=1), dry_run=True
    )

    assert report.removed == [orphan]
    assert await _keys(objects) == [orphan]


async def test_orphans_are_removed_batch_by_batch_between_the_materials_they_sort_among(
    app: FastAPI,
    client: httpx.AsyncClient,
    store: SealedStore,
    objects: ObjectStore,
    resident: str,
    case_no: str,
) -> None:
    material = await _upload(client, resident, case_no)
    # Keys before the material's (its id is a UUIDv7 of today) and after it.
    orphans = [
        await _crashed_upload(app, store, case_no, uuid.UUID(int=number)) for number in (1, 2)
    ] + [await _crashed_upload(app, store, case_no, uuid.UUID(int=(1 << 128) - 1))]

    report = await _sweep(app, objects, now=utcnow() + GRACE + dt.timedelta(minutes=1), batch=1)

    assert report.removed == orphans
    assert [key.split("/")[1] for key in await _keys(objects)] == [material["id"]]


async def test_two_sweeps_at_once_remove_the_orphans_and_nothing_else(
    app: FastAPI,
    client: httpx.AsyncClient,
    store: SealedStore,
    objects: ObjectStore,
    resident: str,
    case_no: str,
) -> None:
    # As two replicas' scheduled sweeps would, started together.
    material = await _upload(client, resident, case_no)
    orphans = {await _crashed_upload(app, store, case_no) for _ in range(3)}
    later = utcnow() + GRACE + dt.timedelta(minutes=1)

    reports = await asyncio.gather(*(_sweep(app, objects, now=later, batch=1) for _ in range(2)))

    assert set().union(*(report.removed for report in reports)) == orphans
    assert all(report.missing == [] for report in reports)
    assert [key.split("/")[1] for key in await _keys(objects)] == [material["id"]]


async def test_an_object_under_a_key_case_svc_does_not_make_is_left_alone(
    app: FastAPI, objects: ObjectStore
) -> None:
    await objects.put("exports/2026-11.csv", b"not a material", "text/csv")

    report = await _sweep(app, objects, now=utcnow() + GRACE + dt.timedelta(minutes=1))

    assert (report.removed, report.foreign) == ([], 1)
    assert await _keys(objects) == ["exports/2026-11.csv"]
    keyring = Keyring({NEW_KEY_ID: base64.b64decode(NEW_KEY)}, NEW_KEY_ID)
    rewrapped = await rewrap_store(objects, keyring, domain="case")
    assert (rewrapped.rewrapped, rewrapped.unopenable, rewrapped.foreign) == (0, [], 1)
    assert await objects.get("exports/2026-11.csv") == b"not a material"


async def test_a_material_whose_content_is_missing_is_reported_and_kept(
    app: FastAPI,
    client: httpx.AsyncClient,
    store: SealedStore,
    objects: ObjectStore,
    resident: str,
    case_no: str,
    problem: Problem,
) -> None:
    lost = await _upload(client, resident, case_no)
    kept = await _upload(client, resident, case_no, JPEG)
    [lost_key] = [key for key in await _keys(objects) if key.endswith(lost["id"])]
    await objects.delete(lost_key)

    report = await _sweep(app, objects, now=utcnow() + GRACE + dt.timedelta(minutes=1))

    assert report.missing == [MissingContent(lost["id"], case_no, lost_key)]
    assert report.removed == []
    listed = await client.get(f"/cases/v1/cases/{case_no}/materials", headers=bearer(resident))
    assert [item["id"] for item in listed.json()["items"]] == [lost["id"], kept["id"]]
    problem(
        await client.get(
            f"/cases/v1/cases/{case_no}/materials/{lost['id']}", headers=bearer(resident)
        ),
        502,
        "material_content_unreadable",
    )


async def test_the_sweep_runs_as_a_command_and_exits_1_while_a_content_is_missing(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: CaseSettings,
    store: SealedStore,
    objects: ObjectStore,
    resident: str,
    case_no: str,
) -> None:
    lost = await _upload(client, resident, case_no)
    [lost_key] = await _keys(objects)
    await objects.delete(lost_key)
    orphan = await _crashed_upload(app, store, case_no)
    # Its grace period: the least the settings take, and the orphan was just written.
    environment = operator_environment(settings, also=_store_environment(settings))

    run = await run_as_an_operator("case_svc.materials", "sweep", environment=environment)

    assert run.returncode == 1, run.errors
    assert f"missing {lost['id']} {case_no}" in run.printed.splitlines()
    assert (
        "0 object(s) no material refers to removed, 1 left within the grace period, 0 interrupted "
        "write(s) removed, 0 not case-svc's left alone; 1 material(s) missing their content"
    ) in run.printed
    assert await _keys(objects) == [orphan]


def _store_environment(settings: CaseSettings) -> dict[str, str]:
    """The store's settings, as the environment spells them."""
    if settings.materials_store == "local":
        return {}
    secret = settings.s3_secret_access_key
    assert settings.s3_endpoint_url is not None
    assert settings.s3_access_key_id is not None
    assert secret is not None
    return {
        "materials_store": "s3",
        "s3_endpoint_url": settings.s3_endpoint_url,
        "s3_bucket": settings.s3_bucket,
        "s3_access_key_id": settings.s3_access_key_id,
        "s3_secret_access_key": secret.get_secret_value(),
    }


async def test_a_write_the_local_store_never_finished_is_swept_too(
    app: FastAPI, objects: ObjectStore, store_kind: str, settings: CaseSettings
) -> None:
    if store_kind != "local":
        pytest.skip("an S3 object is written whole or not at all")
    case_dir = settings.var_dir / "materials" / str(uuid.uuid4())
    case_dir.mkdir(parents=True)
    partial = case_dir / ".tmp1234.part"
    partial.write_bytes(b"ov1.dev.half")

    assert (await _sweep(app, objects, now=utcnow())).leftovers == 0
    assert partial.exists()
    late = await _sweep(app, objects, now=utcnow() + GRACE + dt.timedelta(minutes=1))
    assert late.leftovers == 1
    assert not partial.exists()


async def test_a_store_lists_its_keys_in_the_order_of_their_bytes(objects: ObjectStore) -> None:
    # A slash sorts after a dash and a dot: a directory's keys do not all come before or after
    # a sibling's by its name alone.
    keys = ["a/x", "a-b/y", "a.c/z", "ab", "a/b/c", "b"]
    for key in keys:
        await objects.put(key, b"ov1.k.x.y", "application/octet-stream")

    assert await _keys(objects) == sorted(keys, key=str.encode)


class _OutOfOrder(LocalDirectoryStore):
    async def objects(self) -> AsyncIterator[StoredObject]:
        async for stored in super().objects():
            yield stored
        yield StoredObject("0", utcnow() - dt.timedelta(days=1))


async def test_a_store_listing_out_of_order_stops_the_sweep_before_it_removes_anything(
    app: FastAPI, tmp_path: Any, store_kind: str
) -> None:
    if store_kind != "local":
        pytest.skip("the order is the store's listing's, checked whatever the store")
    install("materials-test", Keyring({"k1": b"\x01" * 32}, "k1"))
    listed = _OutOfOrder(tmp_path)
    sealed = SealedStore(listed, domain="materials-test")
    for key in ("case-a/material-1", "case-b/material-2"):
        await sealed.put(key, JPEG, "image/jpeg")

    with pytest.raises(ListingOutOfOrder):
        await _sweep(app, listed, now=utcnow() + dt.timedelta(days=1))

    assert await _keys(LocalDirectoryStore(tmp_path)) == ["case-a/material-1", "case-b/material-2"]


# --- the rewrap -----------------------------------------------------------------------------------


def _keyring_with_the_new_key(settings: CaseSettings) -> dict[str, str]:
    return {
        **{key_id: key.get_secret_value() for key_id, key in settings.sealing_keys.items()},
        NEW_KEY_ID: NEW_KEY,
    }


async def _key_ids(objects: ObjectStore) -> list[str | None]:
    return [sealing_key_id_of(await objects.read_start(key, 64)) for key in await _keys(objects)]


async def test_after_a_rotation_every_content_reads_with_the_new_key_alone(
    client: httpx.AsyncClient,
    settings: CaseSettings,
    objects: ObjectStore,
    resident: str,
    case_no: str,
) -> None:
    materials = [await _upload(client, resident, case_no, content) for content in (PDF, JPEG)]
    assert await _key_ids(objects) == ["dev", "dev"]
    keys = _keyring_with_the_new_key(settings)
    environment = operator_environment(
        settings, sealing_keys=keys, sealing_key_id=NEW_KEY_ID, also=_store_environment(settings)
    )

    # The operator's two steps: the database's sealed columns, then the material store.
    await rewrap_as_an_operator(
        settings, models="case_svc.models:Base", sealing_keys=keys, sealing_key_id=NEW_KEY_ID
    )
    run = await run_as_an_operator("case_svc.materials", "rewrap", environment=environment)

    assert run.returncode == 0, run.errors
    assert f"2 content(s) wrapped under '{NEW_KEY_ID}', 0 were already" in run.printed
    assert await _key_ids(objects) == [NEW_KEY_ID, NEW_KEY_ID]
    # The old key gone: every material still reads, as it was uploaded.
    install("case", Keyring({NEW_KEY_ID: base64.b64decode(NEW_KEY)}, NEW_KEY_ID))
    for material, content in zip(materials, (PDF, JPEG), strict=True):
        downloaded = await client.get(
            f"/cases/v1/cases/{case_no}/materials/{material['id']}", headers=bearer(resident)
        )
        assert downloaded.status_code == 200, downloaded.text
        assert downloaded.content == content
    # Run again: nothing left to do.
    again = await run_as_an_operator("case_svc.materials", "rewrap", environment=environment)
    assert f"0 content(s) wrapped under '{NEW_KEY_ID}', 2 were already" in again.printed


async def test_a_rewrap_run_again_passes_over_what_it_did(
    client: httpx.AsyncClient,
    settings: CaseSettings,
    objects: ObjectStore,
    resident: str,
    case_no: str,
) -> None:
    keyring = Keyring(
        {
            key_id: base64.b64decode(key)
            for key_id, key in _keyring_with_the_new_key(settings).items()
        },
        NEW_KEY_ID,
    )
    await _upload(client, resident, case_no)
    first = await rewrap_store(objects, keyring, domain="case")
    # Stored under the old key while the rotation was under way (an instance not restarted yet).
    await _upload(client, resident, case_no, JPEG)

    second = await rewrap_store(objects, keyring, domain="case")

    assert (first.rewrapped, first.current, first.unopenable) == (1, 0, [])
    assert (second.rewrapped, second.current, second.unopenable) == (1, 1, [])
    assert await _key_ids(objects) == [NEW_KEY_ID, NEW_KEY_ID]


async def test_a_content_no_key_opens_is_reported_and_left_as_it_is(
    client: httpx.AsyncClient,
    settings: CaseSettings,
    objects: ObjectStore,
    resident: str,
    case_no: str,
) -> None:
    await _upload(client, resident, case_no)
    [key] = await _keys(objects)
    held = await objects.get(key)
    # A keyring that lost the key the content is under.
    keyring = Keyring({NEW_KEY_ID: base64.b64decode(NEW_KEY)}, NEW_KEY_ID)

    report = await rewrap_store(objects, keyring, domain="case")

    assert (report.rewrapped, report.unopenable) == (0, [key])
    assert await objects.get(key) == held
