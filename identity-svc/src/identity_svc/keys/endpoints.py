"""The public JWKS: the keys every service (and the gateway) verifies access tokens with."""

from fastapi import APIRouter, Response

from identity_svc.deps import RuntimeDep
from identity_svc.keys.schemas import Jwks

router = APIRouter(prefix="/identity/v1", tags=["keys"])


@router.get("/.well-known/jwks.json", response_model=Jwks)
async def jwks(runtime: RuntimeDep, response: Response) -> Jwks:
    """The public signing keys (RFC 7517); cache them for five minutes, and fetch again at once
    when a token names a ``kid`` you do not hold. After a rotation the previous key stays
    listed until every token it signed has expired."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return await runtime.keys.jwks()
