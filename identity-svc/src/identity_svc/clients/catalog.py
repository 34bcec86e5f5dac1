"""catalog-svc, as identity-svc needs it: is a region code known (current or retired)?

The answers change with an administrative reform, not from one request to the next, so they
are kept in process for ``cache_seconds``.
"""

import time

import httpx

from servicekit.problems import UpstreamUnavailable
from servicekit.regions import RegionCode


class RegionDirectory:
    def __init__(self, *, cache_seconds: float) -> None:
        self._cache_seconds = cache_seconds
        self._answers: dict[str, tuple[bool, float]] = {}

    async def is_known(self, http: httpx.AsyncClient, region: RegionCode) -> bool:
        code = region.official
        cached = self._answers.get(code)
        if cached is not None and time.monotonic() - cached[1] < self._cache_seconds:
            return cached[0]
        try:
            response = await http.get(f"/catalog/v1/regions/{code}")
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable("catalog-svc could not be reached") from exc
        # 422 invalid_region_code: catalog does not even take it for a code, so not a known one.
        if response.status_code in (404, 422):
            known = False
        elif response.status_code == 200:
            known = True
        else:
            raise UpstreamUnavailable(f"catalog-svc answered {response.status_code}")
        self._answers[code] = (known, time.monotonic())
        return known
