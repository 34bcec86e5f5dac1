"""The platform's pages: the citizen's app (H5, ``/app``) and the staff workbench
(``/workbench``), server-rendered, on the public API through the gateway alone. Nothing is kept
here: the signed-in person's tokens travel sealed in her own cookie."""
