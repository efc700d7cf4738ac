"""Request and response bodies of `app.identity`'s routes."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field

from app.core.schemas import RequestSchema

# WeChat's codes are short printable ASCII; the bound keeps junk away from WeChat.
WECHAT_CODE = r"^[\x21-\x7e]+$"
# PostgreSQL text cannot hold NUL (U+0000): refused here, not failed on in the database.
_NO_NUL = r"^[^\x00]*$"


class WeChatLogin(RequestSchema):
    code: str = Field(
        min_length=1,
        max_length=128,
        pattern=WECHAT_CODE,
        description="The mini-program's `wx.login()` code (in dev, try `xiaoming`)",
    )
    region_code: str | None = Field(
        default=None,
        min_length=1,
        max_length=32,
        pattern=_NO_NUL,
        description="The region a first-time volunteer joins; optional when the service "
        "runs exactly one region, ignored for a returning volunteer",
    )


class PhoneBinding(RequestSchema):
    code: str = Field(
        min_length=1,
        max_length=128,
        pattern=WECHAT_CODE,
        description="The code of the mini-program's `getPhoneNumber` button",
    )


class StaffLogin(RequestSchema):
    username: str = Field(min_length=1, max_length=64, pattern=_NO_NUL)
    # Bounded so that a huge password cannot make argon2 work for nothing.
    password: str = Field(min_length=1, max_length=256)


class RefreshRequest(RequestSchema):
    refresh_token: str = Field(min_length=16, max_length=256)


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme, not a secret
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_token: str = Field(description="Opaque; rotate it at `POST /v1/auth/refresh`")


class WeChatLoginResult(TokenPair):
    volunteer_id: uuid.UUID
    is_new: bool = Field(description="True when this login created the volunteer")


class StaffLoginResult(TokenPair):
    staff_id: uuid.UUID
    kind: Literal["staff", "merchant_staff"]


class PlatformLoginResult(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme, not a secret
    expires_in: int = Field(description="Seconds until the access token expires; no refresh")
    platform_admin_id: uuid.UUID


class BoundPhone(BaseModel):
    phone: str


class WhoAmI(BaseModel):
    kind: str
    id: uuid.UUID
    region_id: uuid.UUID | None
    scopes: list[str]
