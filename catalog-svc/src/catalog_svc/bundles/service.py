"""The rules of one-issue bundles: finding one, with its items in the bundle's order."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from catalog_svc.bundles import repository
from catalog_svc.models import Bundle, ServiceItem
from servicekit.problems import NotFound, extension_members

#: Longest bundle code (the column's width): longer input cannot name one.
BUNDLE_CODE_MAX_LENGTH = 48


class BundleNotFound(NotFound):
    code = "bundle_not_found"
    title = "No such one-issue bundle"
    members = extension_members(bundle_code={"type": "string", "examples": ["birth"]})


@dataclass(frozen=True, slots=True)
class BundleView:
    bundle: Bundle
    items: list[ServiceItem]


async def every_bundle(session: AsyncSession) -> list[Bundle]:
    return await repository.every(session)


async def bundle_by_code(session: AsyncSession, code: str) -> BundleView:
    bundle = await repository.get(session, code) if len(code) <= BUNDLE_CODE_MAX_LENGTH else None
    if bundle is None:
        raise BundleNotFound(f"no one-issue bundle has code {code!r}", bundle_code=code)
    found = await repository.items(session, bundle.item_codes)
    # The seed only writes bundles whose items exist; keep the bundle's order.
    return BundleView(bundle=bundle, items=[found[code] for code in bundle.item_codes])
