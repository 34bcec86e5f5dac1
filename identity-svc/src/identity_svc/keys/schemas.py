"""The JWKS document (RFC 7517) of identity-svc's public signing keys."""

from typing import Literal

from pydantic import BaseModel


class Jwk(BaseModel):
    kty: Literal["OKP"] = "OKP"
    crv: Literal["Ed25519"] = "Ed25519"
    x: str
    kid: str
    alg: Literal["EdDSA"] = "EdDSA"
    use: Literal["sig"] = "sig"


class Jwks(BaseModel):
    keys: list[Jwk]
