"""The keys protecting identity numbers and the ledger key: development defaults, refused in
production; the events the platform's services may be told of."""

import base64
import os
from typing import Any

import pytest
from pydantic import ValidationError

from data_exchange_svc.settings import ExchangeSettings
from servicekit.settings import key_bytes


def key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_development_and_tests_run_on_the_published_development_keys() -> None:
    settings = ExchangeSettings(environment="test")
    assert len(key_bytes(settings.identifier_encryption_key)) == 32
    assert len(settings.hash_key_bytes) == 32


def test_production_refuses_the_development_keys() -> None:
    with pytest.raises(ValidationError, match="development keys"):
        ExchangeSettings(environment="production")
    with pytest.raises(ValidationError, match="development keys"):
        ExchangeSettings(environment="production", identifier_encryption_key=key())
    with pytest.raises(ValidationError, match="development keys"):
        ExchangeSettings(
            environment="production", identifier_encryption_key=key(), identifier_hash_key=key()
        )


def test_production_starts_with_keys_of_its_own() -> None:
    settings = ExchangeSettings(
        environment="production",
        identifier_encryption_key=key(),
        identifier_hash_key=key(),
        ledger_key_encryption_key=key(),
        cursor_key=key(),
        request_digest_key=key(),
        sealing_keys={"2026-12": key()},
        sealing_key_id="2026-12",
        forwarded_key=key(),
    )
    assert key_bytes(settings.identifier_encryption_key) != settings.hash_key_bytes


@pytest.mark.parametrize(
    "overrides",
    [
        {"identifier_encryption_key": base64.b64encode(b"short").decode()},
        {"identifier_hash_key": "not base64!"},
        {"ledger_key_encryption_key": base64.b64encode(b"short").decode()},
        {"identifier_encryption_key": "QUFB" * 11, "identifier_hash_key": "QUFB" * 11},
    ],
    ids=["short-key", "not-base64", "short-ledger-key", "same-key-twice"],
)
def test_unusable_keys_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ExchangeSettings(**overrides)


def test_the_platform_may_be_told_of_life_events_and_accesses_and_of_nothing_else() -> None:
    told = ExchangeSettings(
        event_subscribers={
            "life.birth_registered": ["/identity/v1/events"],
            "data.accessed": ["/identity/v1/events"],
        }
    )
    assert told.event_subscribers["data.accessed"] == ["/identity/v1/events"]
    with pytest.raises(ValidationError, match=r"no event data\.read"):
        ExchangeSettings(event_subscribers={"data.read": ["/identity/v1/events"]})
