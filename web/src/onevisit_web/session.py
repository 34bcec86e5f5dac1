"""Who is signed in at the pages: her tokens, sealed into a cookie of her browser's (AES-256-GCM
envelopes under the platform's sealing keys, ``servicekit.sealing``), one cookie per part
(``/app``, ``/workbench``). The page server keeps nothing; a cookie copied elsewhere is no more
than the tokens it holds, which identity-svc can end (sign-out revokes the refresh token).

Why a sealed cookie rather than a server-side store: the pages then scale and restart like any
other stateless process, and no store of live tokens exists to be read at once."""

import base64
import json
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Literal

from servicekit.sealing import Keyring, UnsealableValue

Part = Literal["app", "workbench"]

_CONTEXT = "web:session"


@dataclass(frozen=True)
class WebSession:
    part: Part
    access_token: str
    refresh_token: str | None
    #: When the access token expires (unix seconds).
    access_expires_at: int
    #: When this sign-in ends, whatever the tokens say (unix seconds).
    ends_at: int
    #: The form token of this sign-in (``csrf_token``): a form posted from elsewhere lacks it.
    form_token: str

    @classmethod
    def begin(
        cls, part: Part, tokens: dict[str, object], *, max_seconds: int, now: float | None = None
    ) -> "WebSession":
        at = int(now if now is not None else time.time())
        return cls(
            part=part,
            access_token=str(tokens["access_token"]),
            refresh_token=str(tokens["refresh_token"]) if tokens.get("refresh_token") else None,
            access_expires_at=at + int(str(tokens.get("expires_in", 600))),
            ends_at=at + max_seconds,
            form_token=secrets.token_urlsafe(24),
        )

    def with_tokens(self, tokens: dict[str, object], *, now: float | None = None) -> "WebSession":
        """The same sign-in with the next tokens (a refresh, a step-up's fresh token)."""
        at = int(now if now is not None else time.time())
        refresh = tokens.get("refresh_token")
        return WebSession(
            part=self.part,
            access_token=str(tokens["access_token"]),
            refresh_token=str(refresh) if refresh else self.refresh_token,
            access_expires_at=at + int(str(tokens.get("expires_in", 600))),
            ends_at=self.ends_at,
            form_token=self.form_token,
        )


def cookie_name(part: Part) -> str:
    return f"ov_{part}"


def seal(session: WebSession, keyring: Keyring) -> str:
    plain = json.dumps(asdict(session), separators=(",", ":")).encode()
    return keyring.seal(plain, context=f"{_CONTEXT}:{session.part}")


def open_session(value: str | None, part: Part, keyring: Keyring) -> WebSession | None:
    """The sign-in a cookie holds, or None: absent, forged, sealed for the other part, ended."""
    if not value:
        return None
    try:
        fields = json.loads(keyring.open(value, context=f"{_CONTEXT}:{part}"))
        session = WebSession(**fields)
    except (UnsealableValue, ValueError, TypeError, KeyError):
        return None
    if session.part != part or session.ends_at <= time.time():
        return None
    return session


def token_claims(access_token: str) -> dict[str, object]:
    """The claims of an access token the token endpoint handed the page server itself, for
    what the page shows (her level, a staff member's roles). Nothing is decided on them: every
    service verifies the token it is sent."""
    try:
        payload = access_token.split(".")[1]
        decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return decoded if isinstance(decoded, dict) else {}
