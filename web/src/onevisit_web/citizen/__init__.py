"""The citizen's app (H5), at ``/app``."""

from onevisit_web.citizen.routes import router

__all__ = ["router"]
