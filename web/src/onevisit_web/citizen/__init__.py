"""The citizen's app (H5), at ``/app``: one router of its pages."""

from fastapi import APIRouter

from onevisit_web.citizen import applying, cases, identity, records, routes, services

router = APIRouter()
for pages in (routes, identity, services, applying, cases, records):
    router.include_router(pages.router)

__all__ = ["router"]
