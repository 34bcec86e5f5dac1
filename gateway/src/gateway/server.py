"""The gateway's HTTP server: uvicorn runs it (sockets, lifespan, signals, graceful shutdown)
with an HTTP/1.1 protocol of the gateway's own.

The protocol parses each request with ``httptools`` (the parser uvicorn uses) and hands a
proxied one to ``Gateway.handle`` as a plain ``Request``, writing the ``Answer`` as one write:
no ASGI scope, no receive and send messages, no middleware chain on the hot path. Measured by
``python -m bench.gateway_proxy`` and side by side with the ASGI path it replaced, that cut the
gateway's CPU per proxied request by about a fifth, at 64 connections and at one. The
operations paths (``/healthz``, ``/metrics``...) and any other ASGI app go through a small ASGI
bridge in the same protocol: the request's body is read first (bounded), the answer is sent
with its length, or in chunks when the app streams it.

HTTP/1.1 as a proxy must speak it: keep-alive, closed after ``timeout_keep_alive`` idle seconds
or after an answer to a request that asks for it (or to HTTP/1.0 without keep-alive); pipelined
requests answered in order (reading pauses while a few wait); ``Expect: 100-continue``; bodies
by length or in chunks, cut at one byte past the gateway's limit and then refused by it (413),
the connection closed; a request that is not HTTP answered 400 and one whose head exceeds
``MAX_HEAD_BYTES`` 431, one whose head takes longer than ``header_timeout_seconds`` to arrive
or whose body stops arriving for ``body_timeout_seconds`` 408 (slowloris), all as problems, the
connection closed; an upgrade (WebSocket) is not
taken: the request is answered as a plain one and the connection closed. uvicorn's
proxy-headers middleware is off: which client addresses the gateway believes is its own setting
(``trusted_proxies``, ``gateway.forwarded``), and the answers name no server software.

Run it as ``python -m gateway [--host H] [--port P]``.
"""

import argparse
import asyncio
import functools
import http
import urllib.parse
from collections import deque
from typing import Any, cast

import httptools
import structlog
import uvicorn
from uvicorn.config import Config
from uvicorn.server import ServerState

from gateway.edge import HeadersTooLarge, NotHttp, RequestTooSlow
from gateway.main import Gateway
from gateway.messages import Answer, Request, internal_error_answer, problem_answer
from servicekit.problems import DomainError

log = structlog.get_logger("gateway.server")

#: A request's line and headers together, past which it is refused (431) and the connection
#: closed before the gateway sees it; the edge's own limit (``max_header_bytes``) is lower.
MAX_HEAD_BYTES = 64 * 1024
#: The body an ASGI app (the operations paths) is given at most; the proxy has its own limit.
MAX_ASGI_BODY_BYTES = 1024 * 1024
#: How long a request's head may take to arrive, and its body may stop arriving, when the app
#: is not a gateway (which has its own settings, ``header_timeout_seconds`` and
#: ``body_timeout_seconds``).
HEADER_TIMEOUT_SECONDS = 10.0
BODY_TIMEOUT_SECONDS = 30.0
#: How long a connection is kept reading (and dropping) after a refused body's answer.
_LINGER_SECONDS = 2.0
#: Complete requests read ahead on one connection before reading pauses (pipelining).
_PIPELINE_DEPTH = 8

_STATUS_LINES = {
    status.value: f"HTTP/1.1 {status.value} {status.phrase}\r\n".encode("latin-1")
    for status in http.HTTPStatus
}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_NO_BODY_STATUSES = frozenset({204, 304})


def _status_line(status: int) -> bytes:
    line = _STATUS_LINES.get(status)
    return line if line is not None else f"HTTP/1.1 {status} \r\n".encode("latin-1")


class _Incoming:
    """A request read and waiting for its answer, or the answer to one that could not be read."""

    __slots__ = ("answer", "keep_alive", "request")

    def __init__(
        self, request: Request | None, keep_alive: bool, answer: Answer | None = None
    ) -> None:
        self.request = request
        self.keep_alive = keep_alive
        self.answer = answer


class GatewayHttpProtocol(asyncio.Protocol):
    """One client connection (uvicorn makes one per connection: see ``SERVER_OPTIONS``)."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not config.loaded:
            config.load()
        self.loop = _loop or asyncio.get_event_loop()
        self.app = config.loaded_app
        self.gateway = self.app if isinstance(self.app, Gateway) else None
        if self.gateway is not None:
            settings = self.gateway.settings
            self.max_body_bytes = settings.max_body_bytes
            self.header_timeout_seconds = settings.header_timeout_seconds
            self.body_timeout_seconds = settings.body_timeout_seconds
        else:
            self.max_body_bytes = MAX_ASGI_BODY_BYTES
            self.header_timeout_seconds = HEADER_TIMEOUT_SECONDS
            self.body_timeout_seconds = BODY_TIMEOUT_SECONDS
        self.server_state = server_state
        self.app_state = app_state
        self.keep_alive_seconds = float(config.timeout_keep_alive)
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.client: tuple[str, int] | None = None
        self.server: tuple[str, int] | None = None
        # The request being read.
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_bytes = 0
        self._body: list[bytes] = []
        self._body_bytes = 0
        self._oversized = False
        #: When the first byte of the head being read arrived; None between heads.
        self._head_since: float | None = None
        #: A body is on its way (its head is read, its end is not).
        self._body_awaited = False
        # Requests read and not yet answered, and the task answering them in order.
        self._incoming: deque[_Incoming] = deque()
        self._answering: asyncio.Task[None] | None = None
        #: Nothing more is read: the connection closes once the requests in hand are answered.
        self._last_read = False
        #: What the client still sends is read and dropped (a refused body).
        self._discarding = False
        self._reading_paused = False
        self._writing_paused = False
        self._closed = False
        self._http_1_0 = False
        self._last_active = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._gone: asyncio.Event | None = None

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A TCP server's transport is a stream transport (uvloop's does not subclass asyncio's).
        self.transport = cast(asyncio.Transport, transport)
        self.server_state.connections.add(cast(Any, self))
        peer = transport.get_extra_info("peername")
        self.client = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else None
        local = transport.get_extra_info("sockname")
        self.server = (str(local[0]), int(local[1])) if isinstance(local, tuple) else None
        self._last_active = self.loop.time()
        self._timer = self.loop.call_later(
            min(self.keep_alive_seconds, self.header_timeout_seconds), self._on_timer
        )

    def data_received(self, data: bytes) -> None:
        self._last_active = self.loop.time()
        if self._last_read:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # The request before the upgrade is answered; nothing after it is HTTP to us.
            self._read_no_more()
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, _HeadTooLarge):
                limit = f"at most {MAX_HEAD_BYTES} bytes of request line and headers"
                self._refuse(HeadersTooLarge(limit))
            else:
                self._refuse(NotHttp("send HTTP/1.1"))

    def eof_received(self) -> bool:
        if self._discarding and self._idle():
            return False  # the refusal is sent, the client has stopped: close
        # The client sends nothing more: answer what was read, then close.
        self._read_no_more()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.server_state.connections.discard(cast(Any, self))
        self._closed = True
        self._incoming.clear()
        if self._timer is not None:
            self._timer.cancel()
        if self._gone is not None:
            self._gone.set()

    def pause_writing(self) -> None:
        # The client reads slower than answers are written: read no more requests meanwhile.
        self._writing_paused = True
        self._pause_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        if len(self._incoming) < _PIPELINE_DEPTH:
            self._resume_reading()

    # -- uvicorn's server ---------------------------------------------------------------------

    def shutdown(self) -> None:
        """The server is stopping: close once the requests in hand are answered."""
        self._read_no_more()

    # -- httptools callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._head_since = self._last_active
        self._url = b""
        self._headers = []
        self._head_bytes = 0
        self._body = []
        self._body_bytes = 0
        self._oversized = False

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_bytes += len(url)
        if self._head_bytes > MAX_HEAD_BYTES:
            raise _HeadTooLarge

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > MAX_HEAD_BYTES:
            raise _HeadTooLarge
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self._head_since = None
        self._body_awaited = True
        self._http_1_0 = self.parser.get_http_version() == "1.0"
        declared = self._header(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            # Refused on its length alone: answered at once, none of the body taken.
            self._take_oversized()
            return
        expect = self._header(b"expect")
        if expect is not None and expect.lower() == b"100-continue" and self._idle():
            self._send(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        if self._oversized:
            return
        self._body_bytes += len(body)
        self._body.append(body)
        if self._body_bytes > self.max_body_bytes:
            # One byte past the limit is all the proxy needs to refuse it.
            self._take_oversized()

    def on_message_complete(self) -> None:
        self._body_awaited = False
        if not self._oversized:
            self._take(self.parser.should_keep_alive())

    # -- requests and answers -----------------------------------------------------------------

    def _header(self, name: bytes) -> bytes | None:
        for key, value in self._headers:
            if key == name:
                return value
        return None

    def _take_oversized(self) -> None:
        """Queue a request whose body is over the limit for its refusal; read the rest of what
        the client sends and drop it, so that closing does not reset the connection before the
        client has read the refusal (the close lingers: see ``_close``)."""
        self._oversized = True
        self._body_awaited = False
        self._take(keep_alive=False)
        self._last_read = True
        self._discarding = True

    def _take(self, keep_alive: bool) -> None:
        """Queue the request just read for its answer."""
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        if self._oversized:
            body = body[: self.max_body_bytes + 1]
        parsed = httptools.parse_url(self._url)
        raw_path: bytes = parsed.path
        text = raw_path.decode("latin-1")
        request = Request(
            method=self.parser.get_method().decode("latin-1"),
            path=urllib.parse.unquote(text) if "%" in text else text,
            raw_path=raw_path,
            query=parsed.query or b"",
            headers=self._headers,
            body=body,
            client=self.client[0] if self.client else None,
            header_bytes=self._head_bytes - len(self._url),
        )
        self._queue(_Incoming(request, keep_alive))

    def _refuse(self, error: DomainError) -> None:
        """Answer a request that cannot be read, after those read before it, and close."""
        self._queue(_Incoming(None, False, problem_answer(error, "")))
        self._read_no_more()

    def _queue(self, incoming: _Incoming) -> None:
        self._incoming.append(incoming)
        if self._answering is None:
            self._answering = self.loop.create_task(self._answer_all())
            self.server_state.tasks.add(self._answering)
        if len(self._incoming) >= _PIPELINE_DEPTH:
            self._pause_reading()

    async def _answer_all(self) -> None:
        """Answer the requests read, in order, until none is left."""
        try:
            while self._incoming and not self._closed:
                incoming = self._incoming.popleft()
                request = incoming.request
                if request is None:
                    assert incoming.answer is not None
                    self._write(incoming.answer, head=False, keep_alive=False)
                    kept = False
                elif self.gateway is not None and self.gateway.proxies(request.path):
                    kept = incoming.keep_alive
                    head = request.method == "HEAD"
                    respond = functools.partial(self._write, head=head, keep_alive=kept)
                    await self.gateway.handle(request, respond)
                else:
                    kept = await self._bridge(request, incoming.keep_alive)
                self.server_state.total_requests += 1
                if not kept:
                    self._close()
                    return
                if not self._writing_paused and len(self._incoming) < _PIPELINE_DEPTH:
                    self._resume_reading()
        finally:
            task, self._answering = self._answering, None
            if task is not None:
                self.server_state.tasks.discard(task)
        if self._last_read:
            self._close()

    def _write(self, answer: Answer, *, head: bool, keep_alive: bool) -> None:
        parts = [_status_line(answer.status)]
        for name, value in answer.headers:
            parts += (name, b": ", value, b"\r\n")
        for name, value in self.server_state.default_headers:
            parts += (name, b": ", value, b"\r\n")
        if not keep_alive:
            parts.append(b"connection: close\r\n\r\n")
        elif self._http_1_0:
            parts.append(b"connection: keep-alive\r\n\r\n")  # 1.0 closes unless told
        else:
            parts.append(b"\r\n")
        if not head:
            parts.append(answer.body)
        self._send(b"".join(parts))

    def _send(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)
            self._last_active = self.loop.time()

    async def _bridge(self, request: Request, keep_alive: bool) -> bool:
        """Serve the request with the ASGI app; whether the connection stays open."""
        head = request.method == "HEAD"
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "server": self.server,
            "client": self.client,
            "scheme": request.scheme,
            "root_path": "",
            "method": request.method,
            "path": request.path,
            "raw_path": request.raw_path,
            "query_string": request.query,
            "headers": request.headers,
            "state": self.app_state.copy(),
        }
        asked = False
        start: dict[str, Any] | None = None
        headers_sent = False
        chunked = False
        complete = False

        async def receive() -> dict[str, Any]:
            nonlocal asked
            if not asked:
                asked = True
                return {"type": "http.request", "body": request.body, "more_body": False}
            if self._gone is None:
                self._gone = asyncio.Event()
            await self._gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal start, headers_sent, chunked, complete
            if message["type"] == "http.response.start" and start is None:
                start = message
                return
            if start is None or complete or message["type"] != "http.response.body":
                raise RuntimeError(f"unexpected ASGI message {message['type']!r}")
            chunk: bytes = message.get("body", b"")
            more = bool(message.get("more_body", False))
            if not headers_sent:
                headers_sent = True
                status = int(start["status"])
                headers = [(bytes(name).lower(), bytes(value)) for name, value in start["headers"]]
                has_body = status >= 200 and status not in _NO_BODY_STATUSES
                if has_body and not any(name == b"content-length" for name, _ in headers):
                    if more:
                        chunked = True
                        headers.append((b"transfer-encoding", b"chunked"))
                    else:
                        headers.append((b"content-length", str(len(chunk)).encode()))
                first = _chunk(chunk) if chunked else chunk
                self._write(Answer(status, headers, first), head=head, keep_alive=keep_alive)
            elif not head and chunk:
                self._send(_chunk(chunk) if chunked else chunk)
            if not more:
                complete = True
                if chunked and not head:
                    self._send(b"0\r\n\r\n")

        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            log.error("unexpected_error", error_type=type(exc).__name__)
            if not headers_sent:
                self._write(internal_error_answer(request.path), head=head, keep_alive=False)
            return False
        if not headers_sent:
            self._write(internal_error_answer(request.path), head=head, keep_alive=False)
            return False
        return keep_alive and complete

    # -- the connection -----------------------------------------------------------------------

    def _idle(self) -> bool:
        return self._answering is None and not self._incoming

    def _read_no_more(self) -> None:
        self._last_read = True
        self._pause_reading()
        if self._idle():
            self._close()

    def _pause_reading(self) -> None:
        if not self._reading_paused and self.transport is not None and not self._closed:
            self._reading_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self._reading_paused and self.transport is not None and not self._last_read:
            self._reading_paused = False
            self.transport.resume_reading()

    def _on_timer(self) -> None:
        """Refuse a request whose head takes longer than its timeout or whose body stops
        arriving, and close a connection idle for ``timeout_keep_alive`` seconds; else look
        again when one of them could be due (one timer per connection, not one per request)."""
        if self._closed or self._last_read:
            return
        now = self.loop.time()
        if self._head_since is not None:
            wait = self._head_since + self.header_timeout_seconds - now
            if wait <= 0:
                limit = self.header_timeout_seconds
                self._refuse(RequestTooSlow(f"send the headers within {limit} s"))
                return
        elif self._body_awaited:
            wait = self._last_active + self.body_timeout_seconds - now
            if wait <= 0:
                limit = self.body_timeout_seconds
                self._refuse(RequestTooSlow(f"the body stopped arriving for {limit} s"))
                return
        elif self._idle():
            wait = self._last_active + self.keep_alive_seconds - now
            if wait <= 0:
                self._close()
                return
        else:
            wait = self.keep_alive_seconds  # answering: nothing can be due before it is done
        # A head may start at any moment: look again within its timeout.
        wait = min(max(wait, 0.01), self.header_timeout_seconds)
        self._timer = self.loop.call_later(wait, self._on_timer)

    def _close(self) -> None:
        self._closed = True
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self._discarding and transport.can_write_eof():
            # A lingering close: closing with the client's bytes unread would reset the
            # connection, and the client could lose the answer. Send the end instead, go on
            # dropping what arrives, and close when the client does or after a while.
            transport.write_eof()
            self.loop.call_later(_LINGER_SECONDS, transport.close)
        else:
            transport.close()


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data) if data else b""


class _HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing a head past ``MAX_HEAD_BYTES``."""


#: How uvicorn serves the gateway, whatever the app.
SERVER_OPTIONS: dict[str, Any] = {
    "loop": "uvloop",
    "http": GatewayHttpProtocol,
    "proxy_headers": False,
    "server_header": False,
    "access_log": False,  # the gateway writes its own access log
    "log_level": "warning",
}


def config(host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        "gateway.main:create_app", factory=True, host=host, port=port, **SERVER_OPTIONS
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gateway", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    arguments = parser.parse_args(argv)
    uvicorn.Server(config(arguments.host, arguments.port)).run()
