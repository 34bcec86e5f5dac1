"""The staff workbench, at ``/workbench``."""

from onevisit_web.workbench.routes import router

__all__ = ["router"]
