"""Each service also answers on its own port, to whoever is on its host: there too it binds to
the loopback interface only, names no server software, and sends the platform's security
headers, as the gateway does."""

import httpx
import pytest

from onevisit_dev.platform import SERVICES, Platform


@pytest.mark.parametrize("service", [spec.name for spec in SERVICES])
def test_a_service_on_its_own_port_sends_the_security_headers_and_no_banner(
    platform: Platform, service: str
) -> None:
    url = platform.config.url(service)
    assert url.startswith("http://127.0.0.1:")
    answer = httpx.get(f"{url}/healthz", timeout=10.0)
    assert answer.status_code == 200
    assert "server" not in answer.headers
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")
