"""The JWKS document (RFC 7517) of identity-svc's public signing keys."""

from typing import Literal

from pydantic import BaseModel


class EcJwk(BaseModel):
    """An ES256 key (RFC 7518 §6.2): the point on P-256."""

    kty: Literal["EC"] = "EC"
    crv: Literal["P-256"] = "P-256"
    x: str
    y: str
    kid: str
    alg: Literal["ES256"] = "ES256"
    use: Literal["sig"] = "sig"


class OkpJwk(BaseModel):
    """An Ed25519 key (RFC 8037), as keys were made before ES256."""

    kty: Literal["OKP"] = "OKP"
    crv: Literal["Ed25519"] = "Ed25519"
    x: str
    kid: str
    alg: Literal["EdDSA"] = "EdDSA"
    use: Literal["sig"] = "sig"


Jwk = EcJwk | OkpJwk


class Jwks(BaseModel):
    keys: list[Jwk]
