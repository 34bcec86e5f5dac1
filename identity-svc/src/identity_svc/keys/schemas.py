"""The JWKS document (RFC 7517) of identity-svc's public signing keys."""

from typing import Literal

from pydantic import BaseModel, ConfigDict


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
    """The newest key first; after a rotation the previous one stays until its tokens expire."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "keys": [
                        {
                            "kty": "EC",
                            "crv": "P-256",
                            "x": "A5oqE4JOGnVcOkzkraGzfWH3N_P8PBIddjvlYyI0kKk",
                            "y": "U_AQabjoFvKPzwgpQDnBtRb3ygEkKWnJaPnhffNsDP8",
                            "kid": "QNs67UiLQIDpWodvnQbabOA3_TJ7IpSng-oP9clGfa4",
                            "alg": "ES256",
                            "use": "sig",
                        },
                        {
                            "kty": "EC",
                            "crv": "P-256",
                            "x": "-L7gITb5szBRP0jhtiE50CN8mpJcb8oRIvziF2Yujvs",
                            "y": "pzGt-924hDcQbBVBd_iC9XKIpxZEsZehFg3n7G-R1OM",
                            "kid": "YObB0peDDCHZ5tbIPXCD4tdlvzPVQl4KSluYw5MT25Y",
                            "alg": "ES256",
                            "use": "sig",
                        },
                    ]
                }
            ]
        }
    )

    keys: list[Jwk]
