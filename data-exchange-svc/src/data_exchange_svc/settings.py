"""Settings of data-exchange-svc (env prefix ``EXCHANGE_``).

Two keys protect citizen identity numbers: one encrypts them (AES-256-GCM), one hashes them for
lookup (HMAC-SHA256), so that neither the stored ciphertext nor the lookup index reveals a
number without a key. A third seals the ledger's signing key in the database. The defaults are
development keys, published in this file: they serve
development and tests, and a production environment refuses to start with them.
"""

import base64
import binascii
import hashlib
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings

#: Where the committed synthetic population lives in a checkout: data-exchange-svc/data/.
_SERVICE_DIR = Path(__file__).resolve().parents[2]


def _development_key(label: str) -> str:
    return base64.b64encode(
        hashlib.sha256(f"onevisit development {label}".encode()).digest()
    ).decode()


DEVELOPMENT_ENCRYPTION_KEY = _development_key("identifier encryption key")
DEVELOPMENT_HASH_KEY = _development_key("identifier hash key")
DEVELOPMENT_LEDGER_KEY_ENCRYPTION_KEY = _development_key("ledger key-encryption key")


def decode_key(value: SecretStr, *, name: str) -> bytes:
    """A key is 32 bytes, written in standard or URL-safe base64."""
    text = value.get_secret_value().strip()
    try:
        key = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{name} is not base64") from exc
    if len(key) != 32:
        raise ValueError(f"{name} must decode to 32 bytes, not {len(key)}")
    return key


class ExchangeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EXCHANGE_", extra="ignore", frozen=True)

    service_name: str = "exchange"
    #: AES-256-GCM key encrypting identity numbers at rest (32 bytes, base64).
    identifier_encryption_key: SecretStr = SecretStr(DEVELOPMENT_ENCRYPTION_KEY)
    #: HMAC-SHA256 key of the identity-number lookup hash, also the ledger's subject hash.
    identifier_hash_key: SecretStr = SecretStr(DEVELOPMENT_HASH_KEY)
    #: AES-256-GCM key sealing the ledger's Ed25519 signing key in the database (32 bytes,
    #: base64).
    ledger_key_encryption_key: SecretStr = SecretStr(DEVELOPMENT_LEDGER_KEY_ENCRYPTION_KEY)
    #: The most entries the ledger appends (and signs one tree head for) in one transaction.
    ledger_batch_limit: int = Field(default=512, ge=1, le=10_000)
    #: The hosted population dataset that ``python -m data_exchange_svc.seed`` loads.
    population_csv: Path = _SERVICE_DIR / "data" / "population.csv"

    @model_validator(mode="after")
    def _keys_are_usable(self) -> "ExchangeSettings":
        encryption = decode_key(self.identifier_encryption_key, name="identifier_encryption_key")
        hashing = decode_key(self.identifier_hash_key, name="identifier_hash_key")
        decode_key(self.ledger_key_encryption_key, name="ledger_key_encryption_key")
        if encryption == hashing:
            raise ValueError("the encryption key and the hash key must differ")
        if self.environment == "production" and {
            self.identifier_encryption_key.get_secret_value(),
            self.identifier_hash_key.get_secret_value(),
            self.ledger_key_encryption_key.get_secret_value(),
        } & {
            DEVELOPMENT_ENCRYPTION_KEY,
            DEVELOPMENT_HASH_KEY,
            DEVELOPMENT_LEDGER_KEY_ENCRYPTION_KEY,
        }:
            raise ValueError(
                "production refuses the development keys: set EXCHANGE_IDENTIFIER_ENCRYPTION_KEY,"
                " EXCHANGE_IDENTIFIER_HASH_KEY and EXCHANGE_LEDGER_KEY_ENCRYPTION_KEY"
            )
        return self

    @property
    def encryption_key_bytes(self) -> bytes:
        return decode_key(self.identifier_encryption_key, name="identifier_encryption_key")

    @property
    def ledger_key_encryption_key_bytes(self) -> bytes:
        return decode_key(self.ledger_key_encryption_key, name="ledger_key_encryption_key")

    @property
    def hash_key_bytes(self) -> bytes:
        return decode_key(self.identifier_hash_key, name="identifier_hash_key")
