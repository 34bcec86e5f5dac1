"""What the page server holds while it runs: its settings and its pooled client of the gateway."""

from dataclasses import dataclass

import httpx

from onevisit_web.settings import WebSettings


@dataclass(frozen=True)
class WebState:
    settings: WebSettings
    http: httpx.AsyncClient
