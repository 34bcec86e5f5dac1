"""What the gateway passes along: a request as its server read it, an answer as it goes back.

The proxy works on these rather than on ASGI messages: the gateway's HTTP server
(``gateway.server``) builds a ``Request`` straight from the parser and writes the ``Answer``
in one piece, and the ASGI entry (``gateway.main``) turns a scope into the same ``Request``.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from starlette.types import Receive, Scope, Send

from servicekit.problems import PROBLEM_JSON, DomainError, internal_error_body, problem_body

_PROBLEM_JSON = PROBLEM_JSON.encode("latin-1")


class ClientGone(Exception):
    """The client disconnected before its body arrived: there is nobody to answer."""


@dataclass(slots=True)
class Request:
    method: str
    #: Percent-decoded, as routes are matched.
    path: str
    #: As the client sent it (percent-encoding kept), what is forwarded.
    raw_path: bytes
    query: bytes
    #: Names in lower case, in the order received.
    headers: list[tuple[bytes, bytes]]
    body: bytes
    #: The peer's address.
    client: str | None
    scheme: str = "http"
    #: The bytes of the header section as received (names, values and separators).
    header_bytes: int = 0
    #: The metrics' and access log's label for the route: set once a route is known.
    route: str = "unmatched"

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def target(self) -> bytes:
        """Path and query exactly as the client sent them."""
        return self.raw_path + b"?" + self.query if self.query else self.raw_path


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    #: An upstream's as received; the gateway's as they go out, ``Content-Length`` included
    #: (its server adds only ``Date`` and ``Connection``).
    headers: list[tuple[bytes, bytes]]
    body: bytes = field(default=b"")


def problem_answer(error: DomainError, instance: str) -> Answer:
    return _problem(
        problem_body(
            status=error.status,
            code=error.code,
            title=error.title,
            detail=error.detail,
            instance=instance,
            **error.extensions,
        ),
        error.status,
        error.headers,
    )


def internal_error_answer(instance: str) -> Answer:
    return _problem(internal_error_body(instance), 500, None)


def _problem(body: dict[str, object], status: int, headers: Mapping[str, str] | None) -> Answer:
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    listed = [
        (b"content-type", _PROBLEM_JSON),
        (b"content-length", str(len(content)).encode("latin-1")),
    ]
    if headers:
        listed += [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in headers.items()
        ]
    return Answer(status, listed, content)


def request_from_scope(scope: Scope, body: bytes) -> Request:
    """An ASGI request as the proxy takes it."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    client = scope.get("client")
    return Request(
        method=scope["method"],
        path=scope["path"],
        raw_path=scope.get("raw_path") or scope["path"].encode("utf-8"),
        query=scope.get("query_string", b""),
        headers=headers,
        body=body,
        client=str(client[0]) if client else None,
        scheme=scope.get("scheme", "http"),
        header_bytes=sum(len(name) + len(value) + 4 for name, value in headers),
    )


async def read_body(receive: Receive, limit: int) -> bytes:
    """An ASGI request's body, read up to one byte past ``limit``: enough for the proxy to
    refuse it, without holding what a client sends beyond."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if not message.get("more_body", False):
            # The common case, one message: no copy.
            return b"".join([*chunks, chunk]) if chunks else chunk
        chunks.append(chunk)
    return b"".join(chunks)[: limit + 1]


async def send_answer(send: Send, answer: Answer) -> None:
    await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
    await send({"type": "http.response.body", "body": answer.body})
