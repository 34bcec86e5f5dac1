"""What the API takes to change a password."""

from pydantic import BaseModel, ConfigDict, Field


class PasswordChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"current_password": "Songtai-1952-lost", "new_password": "Qingnianfang-2026"}
            ]
        },
    )

    current_password: str = Field(min_length=1, max_length=128)
    new_password: str = Field(
        min_length=1,
        max_length=128,
        description="at least 8 characters; not containing the phone number; not a common one",
    )
