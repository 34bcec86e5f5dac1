"""The response headers every answer of the platform carries, at the gateway and at each
service alike (a service is reachable on its own port from its host): no sniffing, no
referrer, no framing, and a content security policy that allows nothing for the API and what
the Swagger page needs for ``/docs``."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_POLICY = b"default-src 'none'; frame-ancestors 'none'"
DOCS_POLICY = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"img-src 'self' data: https://fastapi.tiangolo.com; frame-ancestors 'none'"
)
COMMON_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
_DOCS_PATHS = ("/docs", "/redoc")


class SecurityHeadersMiddleware:
    """Adds the headers above to every HTTP answer (keeping any the app set itself)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._api = (*COMMON_HEADERS, (b"content-security-policy", API_POLICY))
        self._docs = (*COMMON_HEADERS, (b"content-security-policy", DOCS_POLICY))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = self._docs if str(scope.get("path", "")).startswith(_DOCS_PATHS) else self._api

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(pair for pair in added if pair[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
