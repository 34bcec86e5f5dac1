"""catalog-svc, as identity-svc needs it: is a region code known (current or retired), is a
department id known?

The answers change with an administrative reform, not from one request to the next, so they
are kept in process for ``cache_seconds``.
"""

import time

import httpx

from servicekit.problems import UpstreamUnavailable
from servicekit.regions import RegionCode


class CatalogDirectory:
    def __init__(self, *, cache_seconds: float) -> None:
        self._cache_seconds = cache_seconds
        self._answers: dict[str, tuple[bool, float]] = {}

    async def is_known_region(self, http: httpx.AsyncClient, region: RegionCode) -> bool:
        return await self._is_known(http, f"/catalog/v1/regions/{region.official}")

    async def is_known_department(self, http: httpx.AsyncClient, department_id: str) -> bool:
        """``department_id`` as catalog writes it (``<region code>-<type>``), already checked
        for that form: it goes into the path as it is."""
        return await self._is_known(http, f"/catalog/v1/departments/{department_id}")

    async def _is_known(self, http: httpx.AsyncClient, path: str) -> bool:
        cached = self._answers.get(path)
        if cached is not None and time.monotonic() - cached[1] < self._cache_seconds:
            return cached[0]
        try:
            response = await http.get(path)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable("catalog-svc could not be reached") from exc
        # 422: catalog does not even take it for a code or an id, so not a known one.
        if response.status_code in (404, 422):
            known = False
        elif response.status_code == 200:
            known = True
        else:
            raise UpstreamUnavailable(f"catalog-svc answered {response.status_code}")
        self._answers[path] = (known, time.monotonic())
        return known
