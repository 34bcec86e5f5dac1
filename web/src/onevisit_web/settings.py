"""The page server's settings (env prefix ``WEB_``)."""

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class WebSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WEB_", extra="ignore", frozen=True)

    service_name: str = "web"
    #: Cookies only over https (``Secure``). None: on, except in development, where the platform
    #: runs on http://127.0.0.1.
    secure_cookies: bool | None = None
    #: The longest a sign-in at the pages lasts, whatever the refresh token would allow: a
    #: shared phone or a counter's screen is not signed in for days.
    session_max_seconds: int = Field(default=8 * 3600, ge=300, le=7 * 24 * 3600)
    #: The demo capture of a synthetic person that stands in for the phone's camera at the face
    #: step (``data-exchange-svc/data/demo_face_capture.json``); the page says so. None: the
    #: face step needs the app's camera (production refuses a demo capture).
    demo_face_capture: Path | None = None

    @property
    def cookies_secure(self) -> bool:
        if self.secure_cookies is None:
            return self.environment != "development"
        return self.secure_cookies

    @model_validator(mode="after")
    def _no_demo_capture_in_production(self) -> "WebSettings":
        if self.environment == "production" and self.demo_face_capture is not None:
            raise ValueError("production refuses WEB_DEMO_FACE_CAPTURE: a camera captures faces")
        return self
