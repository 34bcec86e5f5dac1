"""What a client may be registered with: its type and how it authenticates, its public keys
(``private_key_jwt``) and where the browser may be sent back to it.

Pure rules, shared by the registration API and the seed, so that a seeded client obeys what an
administrator's would. A public client is the platform's app (RFC 8252): it holds no secret and
no key, so its type and its method go together, ``app`` ⇔ ``none``. Keys are public signing keys
of the kinds the token endpoint verifies (``ASSERTION_KEY_KINDS``), never a private member.
Redirect URIs are absolute, matched exactly later, and without a fragment (RFC 6749 §3.1.2):
``https``, plain ``http`` only to the loopback interface (a native app's or a developer's
listener, RFC 8252 §7.3), or a private-use scheme in reverse-domain form (RFC 8252 §7.1).
"""

from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

import jwt

from servicekit.problems import DomainError, extension_members

ClientType = Literal["department_system", "service", "app"]
#: How a client authenticates at the token endpoint (``identity_svc.tokens.client_auth``).
AuthMethod = Literal["client_secret_basic", "private_key_jwt", "none"]
AUTH_METHODS: tuple[AuthMethod, ...] = ("client_secret_basic", "private_key_jwt", "none")

#: The signing algorithms a client assertion may use, and the key each needs: its JWK ``kty``
#: and, for curves, ``crv``. No ``none``, no HMAC (a shared secret is not a public key).
ASSERTION_KEY_KINDS: Mapping[str, tuple[str, str | None]] = {
    "ES256": ("EC", "P-256"),
    "RS256": ("RSA", None),
    "PS256": ("RSA", None),
    "EdDSA": ("OKP", "Ed25519"),
}
#: The members that would make a JWK a private (or symmetric) key (RFC 7518 §6).
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
MIN_RSA_BITS = 2048
MAX_KEYS = 10
MAX_REDIRECT_URIS = 10
#: The columns that keep a redirect URI of a request or a code hold this many characters.
MAX_REDIRECT_URI_LENGTH = 2000
#: Hosts plain http may name (as ``urlsplit`` gives them: lower case, no brackets).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class InvalidClientMetadata(DomainError):
    status = 422
    code = "invalid_client_metadata"
    title = "The client's type, authentication method or keys do not go together"
    members = extension_members(
        field={
            "type": "string",
            "description": "The field at fault",
            "enum": ["typ", "auth_method", "jwks", "first_party"],
            "examples": ["jwks"],
        }
    )


class InvalidRedirectUri(DomainError):
    status = 422
    code = "invalid_redirect_uri"
    title = "A redirect URI is not absolute https, loopback http or a private-use scheme"
    members = extension_members(
        redirect_uris={
            "type": "array",
            "items": {"type": "string"},
            "description": "The URIs refused",
            "examples": [["http://portal.example.gov.cn/callback"]],
        }
    )


def default_auth_method(typ: ClientType) -> AuthMethod:
    """A public client's is ``none``; every other's its secret."""
    return "none" if typ == "app" else "client_secret_basic"


def check_client(
    *,
    typ: str,
    auth_method: str,
    jwks: Mapping[str, Any] | None,
    redirect_uris: Sequence[str],
    post_logout_redirect_uris: Sequence[str],
) -> None:
    """Everything registration checks that needs no database."""
    if (typ == "app") != (auth_method == "none"):
        raise InvalidClientMetadata(
            "an app (a public client) authenticates with none, and only an app does",
            field="auth_method",
        )
    if auth_method == "private_key_jwt":
        if jwks is None:
            raise InvalidClientMetadata("private_key_jwt needs the client's jwks", field="jwks")
        check_jwks(jwks)
    elif jwks is not None:
        raise InvalidClientMetadata("only a private_key_jwt client has jwks", field="jwks")
    check_redirect_uris(redirect_uris)
    check_redirect_uris(post_logout_redirect_uris)


def check_jwks(jwks: Mapping[str, Any]) -> None:
    """A JWK Set of 1 to ``MAX_KEYS`` public signing keys of ``ASSERTION_KEY_KINDS``' kinds,
    each usable as it stands (PyJWT parses it), key ids unique."""
    keys = jwks.get("keys")
    if not isinstance(keys, list) or not 1 <= len(keys) <= MAX_KEYS:
        raise _bad_jwks(f'a JWK Set: an object whose "keys" holds 1 to {MAX_KEYS} keys')
    if not all(isinstance(key, dict) for key in keys):
        raise _bad_jwks("every key is a JSON object")
    for member in ("kid", "kty", "crv", "alg", "use"):
        if not all(isinstance(key.get(member, ""), str) for key in keys):
            raise _bad_jwks(f"a key's {member} is a string")
    named = [key["kid"] for key in keys if "kid" in key]
    if len(set(named)) != len(named) or (len(keys) > 1 and len(named) != len(keys)):
        raise _bad_jwks("keys of a set of more than one each have a kid of their own")
    for key in keys:
        _check_key(key)


def _check_key(key: Mapping[str, Any]) -> None:
    private = sorted(PRIVATE_MEMBERS & set(key))
    if private:
        raise _bad_jwks(f"a public key only: remove {', '.join(private)}")
    if key.get("use", "sig") != "sig":
        raise _bad_jwks("a key's use, if given, is sig")
    if (key.get("kty"), key.get("crv")) not in ASSERTION_KEY_KINDS.values():
        raise _bad_jwks("EC P-256, RSA or OKP Ed25519 keys only")
    algorithm = key.get("alg")
    if algorithm is not None and ASSERTION_KEY_KINDS.get(algorithm) != (key["kty"], key.get("crv")):
        raise _bad_jwks("a key's alg, if given, is ES256, RS256, PS256 or EdDSA, for its kind")
    try:
        parsed = jwt.PyJWK(dict(key))
    except jwt.PyJWTError as exc:
        raise _bad_jwks("a key is malformed") from exc
    if key["kty"] == "RSA" and getattr(parsed.key, "key_size", 0) < MIN_RSA_BITS:
        raise _bad_jwks(f"an RSA key has at least {MIN_RSA_BITS} bits")


def _bad_jwks(detail: str) -> InvalidClientMetadata:
    return InvalidClientMetadata(f"jwks: {detail}", field="jwks")


def check_redirect_uris(uris: Sequence[str]) -> None:
    """Each URI acceptable (``redirect_uri_acceptable``), at most ``MAX_REDIRECT_URIS``."""
    refused = [uri for uri in uris if not redirect_uri_acceptable(uri)]
    if refused:
        raise InvalidRedirectUri(
            "absolute https, http to 127.0.0.1 or localhost, or a private-use scheme "
            "(reverse domain, e.g. cn.gov.onevisit.app:/callback); no fragment",
            redirect_uris=refused,
        )
    if len(uris) > MAX_REDIRECT_URIS:
        raise InvalidRedirectUri(
            f"at most {MAX_REDIRECT_URIS} of each kind",
            redirect_uris=list(uris[MAX_REDIRECT_URIS:]),
        )


def redirect_uri_acceptable(uri: str) -> bool:
    if not uri or len(uri) > MAX_REDIRECT_URI_LENGTH or "#" in uri:
        return False
    if any(character.isspace() or not character.isprintable() for character in uri):
        return False
    try:
        parts = urlsplit(uri)
        hostname = parts.hostname
        parts.port  # noqa: B018 (a malformed port raises here)
    except ValueError:
        return False
    if "@" in parts.netloc:
        return False  # credentials in a redirect URI only serve to mislead
    scheme = parts.scheme.lower()
    if scheme == "https":
        return bool(hostname)
    if scheme == "http":
        return hostname in LOOPBACK_HOSTS
    # A private-use scheme: a reverse domain name (RFC 8252 §7.1), so never a bare word such as
    # javascript, data or file.
    return "." in scheme and not parts.netloc and parts.path.startswith("/")
