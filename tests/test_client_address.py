"""Who the client is, end to end between the real processes: the gateway believes
X-Forwarded-For only from its trusted load balancer and passes the address on signed;
identity-svc believes only that signature, so a direct caller is its own address whatever it
claims; request ids are the gateway's unless a trusted hop sent them.
"""

import csv
import json
import secrets
import time
from pathlib import Path
from typing import Any

import httpx

from onevisit_dev.answers import register_citizen
from onevisit_dev.platform import Platform, device_address

REPO_ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Client-Address-2026"


def new_phone() -> str:
    return "136" + "".join(secrets.choice("0123456789") for _ in range(8))


def registered(gateway: httpx.Client, platform: Platform) -> str:
    phone = new_phone()
    register_citizen(gateway, platform.config.var_dir, phone, PASSWORD)
    return phone


def sign_in(
    client: httpx.Client, phone: str, password: str = PASSWORD, **headers: str
) -> httpx.Response:
    return client.post(
        "/identity/v1/token",
        data={"grant_type": "password", "username": phone, "password": password},
        headers={name.replace("_", "-"): value for name, value in headers.items()},
    )


def session_address(client: httpx.Client, tokens: httpx.Response) -> str:
    assert tokens.status_code == 200, tokens.text
    access = tokens.json()["access_token"]
    listed = client.get("/identity/v1/me/sessions", headers={"Authorization": f"Bearer {access}"})
    assert listed.status_code == 200, listed.text
    address: str = listed.json()["sessions"][0]["client_address"]
    return address


def access_lines(platform: Platform, process: str, request_id: str) -> list[dict[str, Any]]:
    """The access-log lines of a process for a request id, waited for a moment: a line is
    written once the answer has left."""
    deadline = time.monotonic() + 5
    while True:
        lines = [
            line
            for line in map(json.loads, platform.log_of(process).read_text().splitlines())
            if line.get("message") == "request" and line.get("request_id") == request_id
        ]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def test_clients_behind_the_load_balancer_are_throttled_each_at_their_own_address(
    platform: Platform, gateway: httpx.Client, load_balancer: httpx.Client
) -> None:
    phone = registered(gateway, platform)
    first, second = "203.0.113.10", "203.0.113.20"
    answers = [sign_in(load_balancer, phone, "guess", x_forwarded_for=first) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [400, 400, 429]
    slowed = sign_in(load_balancer, phone, x_forwarded_for=first)
    assert slowed.status_code == 429, slowed.text
    assert slowed.json()["code"] == "login_throttled"
    assert slowed.json()["throttled_by"] == "login_and_address"
    assert int(slowed.headers["retry-after"]) >= 1

    # Another client the balancer names has an address, and a count, of her own.
    assert session_address(gateway, sign_in(load_balancer, phone, x_forwarded_for=second)) == second
    # From a peer the gateway does not trust, X-Forwarded-For names nobody: claiming the first
    # client's address is not being it.
    own = device_address()
    with platform.client(own) as device:
        claimed = sign_in(device, phone, x_forwarded_for=first)
    assert session_address(gateway, claimed) == own


def test_the_client_is_the_last_address_the_load_balancer_appended(
    platform: Platform, gateway: httpx.Client, load_balancer: httpx.Client
) -> None:
    phone = registered(gateway, platform)
    # The first entry is what the client wrote itself; the balancer appended the second.
    tokens = sign_in(load_balancer, phone, x_forwarded_for="10.9.9.9, 198.51.100.23")
    assert session_address(gateway, tokens) == "198.51.100.23"


def test_a_direct_call_to_identity_claiming_another_address_is_its_own_address(
    platform: Platform, gateway: httpx.Client, load_balancer: httpx.Client
) -> None:
    owner = registered(gateway, platform)
    genuine_looking = f"203.0.113.7;{int(time.time())};{'e' * 32}"
    claims = {"x_forwarded_for": "203.0.113.7", "onevisit_forwarded": genuine_looking}
    with httpx.Client(base_url=platform.config.url("identity"), timeout=30.0) as direct:
        answers = [sign_in(direct, owner, "guess", **claims) for _ in range(3)]
        assert [answer.status_code for answer in answers] == [400, 400, 429]
        # Slowed at its own address, whatever it claims ...
        assert sign_in(direct, owner, **claims).status_code == 429
    # ... while the owner at the address it claimed is not.
    at_home = sign_in(load_balancer, owner, x_forwarded_for="203.0.113.7")
    assert session_address(gateway, at_home) == "203.0.113.7"
    with httpx.Client(base_url=platform.config.url("identity"), timeout=30.0) as direct:
        other = registered(gateway, platform)
        assert session_address(direct, sign_in(direct, other, **claims)) == "127.0.0.1"


def test_a_public_callers_request_id_is_logged_beside_the_gateways_never_as_it(
    platform: Platform, gateway: httpx.Client
) -> None:
    mine = f"app-{secrets.token_hex(6)}"
    response = gateway.get("/catalog/v1/regions/330302", headers={"X-Request-ID": mine})
    assert response.status_code == 200, response.text
    ours = response.headers["x-request-id"]
    assert ours != mine
    [line] = access_lines(platform, "gateway", ours)
    assert line["client_request_id"] == mine
    assert access_lines(platform, "catalog", ours)  # the service goes by the gateway's id
    assert not access_lines(platform, "catalog", mine)


def test_a_request_id_from_the_load_balancer_follows_the_request_through_every_hop(
    platform: Platform, gateway: httpx.Client, load_balancer: httpx.Client
) -> None:
    token = sign_in(gateway, registered(gateway, platform)).json()["access_token"]
    with (REPO_ROOT / "data-exchange-svc/data/population.csv").open(encoding="utf-8") as source:
        resident = list(csv.DictReader(source))[7]
    request_id = f"lb-{secrets.token_hex(6)}"
    response = load_balancer.post(
        "/identity/v1/me/real-name",
        json={"name": resident["name"] + "某", "id_number": resident["id_number"]},
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": request_id},
    )
    assert response.status_code == 422, response.text  # the name does not match the registry
    assert response.headers["x-request-id"] == request_id
    assert access_lines(platform, "identity", request_id)
    # identity-svc asked the exchange through the gateway, signing the id: the gateway kept it.
    assert access_lines(platform, "exchange", request_id)
    assert len(access_lines(platform, "gateway", request_id)) >= 2


def test_a_sign_in_at_the_pages_is_counted_at_the_browsers_address_not_the_page_servers(
    platform: Platform, gateway: httpx.Client
) -> None:
    # The pages call the token endpoint for the browser the gateway vouched for to them: each
    # browser is its own client to identity-svc (its sessions, its failures), as a phone is.
    phone = registered(gateway, platform)
    first, second = device_address(), device_address()

    def sign_in_at_the_pages(address: str, password: str) -> httpx.Response:
        with platform.client(address) as browser:
            form = {"method": "password", "phone": phone, "password": password, "next": "/app/"}
            return browser.post("/app/sign-in", data=form)

    for address in (first, second):
        signed_in = sign_in_at_the_pages(address, PASSWORD)
        assert signed_in.status_code == 303, signed_in.text
        assert signed_in.headers["location"] == "/app/"
    own = sign_in(gateway, phone)
    access = own.json()["access_token"]
    listed = gateway.get("/identity/v1/me/sessions", headers={"Authorization": f"Bearer {access}"})
    addresses = {session["client_address"] for session in listed.json()["sessions"]}
    assert {first, second} <= addresses

    # Three failures from the first browser slow the first browser alone.
    for _ in range(3):
        sign_in_at_the_pages(first, "guess")
    slowed = sign_in_at_the_pages(first, PASSWORD)
    assert slowed.status_code == 429
    assert "尝试次数过多" in slowed.text
    assert sign_in_at_the_pages(second, PASSWORD).status_code == 303
