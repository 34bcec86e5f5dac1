"""The end-to-end suite: the six services as real processes on free ports, talking real HTTP
through the gateway, each with a fresh database of its own."""

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from onevisit_dev.platform import Platform, PlatformConfig, running_platform


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    config = PlatformConfig.on_free_ports(tmp_path_factory.mktemp("platform"))
    with running_platform(config) as running:
        yield running


@pytest.fixture
def gateway(platform: Platform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.config.gateway_url, timeout=30.0) as client:
        yield client


def new_phone() -> str:
    return "139" + "".join(secrets.choice("0123456789") for _ in range(8))


REPO_ROOT = Path(__file__).resolve().parents[1]
