import base64
import os

import pytest
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from servicekit.settings import SecretKey, ServiceSettings, development_key, key_bytes


class VaultSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="VAULT_", extra="ignore", frozen=True)

    service_name: str = "vault"
    sealing_key: SecretKey = development_key("vault sealing key")
    hashing_key: SecretKey = development_key("vault hashing key")


def random_key() -> SecretStr:
    return SecretStr(base64.b64encode(os.urandom(32)).decode())


def test_development_keys_serve_development_and_tests() -> None:
    settings = VaultSettings(environment="test")
    assert len(key_bytes(settings.sealing_key)) == 32
    assert key_bytes(settings.sealing_key) != key_bytes(settings.hashing_key)


def test_production_names_every_development_key_still_in_place() -> None:
    with pytest.raises(ValidationError) as refused:
        VaultSettings(environment="production", sealing_key=random_key())
    message = str(refused.value)
    assert "VAULT_HASHING_KEY" in message
    assert "VAULT_CURSOR_KEY" in message  # every service's own, from the base class
    assert "VAULT_REQUEST_DIGEST_KEY" in message
    assert "VAULT_SEALING_KEYS" in message  # a keyring's development key too
    assert "VAULT_FORWARDED_KEY" in message
    assert "VAULT_SEALING_KEY," not in message
    VaultSettings(
        environment="production",
        sealing_key=random_key(),
        hashing_key=random_key(),
        cursor_key=random_key(),
        request_digest_key=random_key(),
        sealing_keys={"2026-12": random_key()},
        sealing_key_id="2026-12",
        forwarded_key=random_key(),
    )


def test_a_class_names_the_settings_a_production_deployment_must_set() -> None:
    assert VaultSettings.development_key_fields() == (
        "cursor_key",
        "request_digest_key",
        "sealing_keys",  # a keyring of development keys
        "forwarded_key",
        "sealing_key",
        "hashing_key",
    )


@pytest.mark.parametrize(
    "value",
    ["not base64!", base64.b64encode(b"sixteen bytes!!!").decode(), ""],
    ids=["not-base64", "too-short", "empty"],
)
def test_a_key_that_is_not_32_base64_bytes_is_refused_at_load(value: str) -> None:
    with pytest.raises(ValidationError):
        VaultSettings(sealing_key=SecretStr(value))


def test_url_safe_base64_is_accepted() -> None:
    raw = bytes(range(224, 256))
    urlsafe = base64.urlsafe_b64encode(raw).decode()
    assert "-" in urlsafe or "_" in urlsafe
    assert key_bytes(SecretStr(urlsafe)) == raw
