"""The gateway's HTTP server: uvicorn (uvloop, httptools), with each answer leaving in one write.

uvicorn writes an answer's status line and headers, then its body, as two writes on the socket:
two system calls and two TCP segments for every small JSON answer, which made up a quarter of
the gateway's CPU per proxied request. Here the connection's transport gathers what is written
during one turn of the event loop and sends it in a single write at the end of that turn, so a
head and a body written together leave together. Nothing waits longer than the current turn;
closing or aborting the connection sends (or drops) what is gathered first.

uvicorn's proxy-headers middleware is off: which client addresses the gateway believes is its
own setting (``trust_forwarded_headers``), and the ``Server`` header names no software.

Run it as ``python -m gateway [--host H] [--port P]``.
"""

import argparse
import asyncio
from typing import Any, cast

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _OneWritePerTurn(asyncio.Transport):
    """A transport that sends what is written during one loop turn as one write."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._gathered: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._gathered:
            self._loop.call_soon(self._send)
        self._gathered.append(bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def _send(self) -> None:
        if not self._gathered:
            return
        data = self._gathered[0] if len(self._gathered) == 1 else b"".join(self._gathered)
        self._gathered.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self._send()
        self._transport.close()

    def abort(self) -> None:
        self._gathered.clear()
        self._transport.abort()

    def write_eof(self) -> None:
        self._send()
        self._transport.write_eof()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._gathered))

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()


class GatewayHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a transport that writes once per loop turn."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A TCP server's transport is a stream transport (uvloop's does not subclass asyncio's).
        stream = cast(asyncio.Transport, transport)
        super().connection_made(_OneWritePerTurn(stream, self.loop))


#: How uvicorn serves the gateway, whatever the app.
SERVER_OPTIONS: dict[str, Any] = {
    "loop": "uvloop",
    "http": GatewayHttpProtocol,
    "proxy_headers": False,
    "server_header": False,
    "access_log": False,  # the kit's middleware writes the access log
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
