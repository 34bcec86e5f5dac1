"""Which department types issue which certificate types, and which platform services publish on
an issuer's behalf, as ``issuers.toml`` beside this file says. Read once, checked against the
certificate library's spec: a type the library does not know is a startup error."""

import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from data_exchange_svc.resources.spec import HOSTED, ResourceSpec

#: The resource the certificates are published to.
CERTIFICATES = "electronic_certificate"
ISSUERS_FILE = Path(__file__).with_name("issuers.toml")


@dataclass(frozen=True, slots=True)
class CertificateKind:
    type: str
    #: The certificate's name as the library shows it (a caller never names it).
    name: str
    #: The department types that issue it.
    issuers: frozenset[str]


@dataclass(frozen=True, slots=True)
class Issuers:
    kinds: Mapping[str, CertificateKind]
    #: Platform services (token subjects) that publish on an issuing department's behalf.
    publishers: frozenset[str]

    def kind(self, certificate_type: str) -> CertificateKind | None:
        return self.kinds.get(certificate_type)


class InvalidIssuers(ValueError):
    """The issuers file contradicts the library's spec: a startup error, never a request's."""


def parse_issuers(raw: Mapping[str, object], spec: ResourceSpec) -> Issuers:
    choices = set(spec.field("certificate_type").choices or ())
    kinds: dict[str, CertificateKind] = {}
    entries = raw.get("certificate", [])
    if not isinstance(entries, list):
        raise InvalidIssuers("certificate is a list of tables")
    for entry in entries:
        kind = CertificateKind(entry["type"], entry["name"], frozenset(entry["issuers"]))
        if kind.type not in choices:
            raise InvalidIssuers(f"{kind.type}: not a certificate type of {spec.code}")
        if kind.type in kinds or not kind.issuers:
            raise InvalidIssuers(f"{kind.type}: listed twice, or with no issuer")
        kinds[kind.type] = kind
    publishers = raw.get("publishers", [])
    if not isinstance(publishers, list):
        raise InvalidIssuers("publishers is a list of service names")
    return Issuers(kinds, frozenset(str(name) for name in publishers))


@functools.cache
def issuers() -> Issuers:
    with ISSUERS_FILE.open("rb") as file:
        return parse_issuers(tomllib.load(file), HOSTED[CERTIFICATES])
