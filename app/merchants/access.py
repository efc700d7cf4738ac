"""Who may act on a merchant.

Region staff manage a merchant when they are center admins of its region or
admins whose roles reach one of its paired stations. The merchant's own staff
(StaffUser of kind `merchant`, linked by `MerchantMember`) act on their merchant
only: its owner runs it, its cashiers see it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import SessionDep
from app.core.errors import Forbidden
from app.identity.models import StaffUser
from app.identity.principals import (
    CurrentPrincipal,
    StaffContext,
    current_merchant_user,
    current_staff,
)
from app.merchants import repository
from app.merchants.errors import (
    MerchantNotFound,
    MerchantOwnerRequired,
    NotMerchantManager,
    NotMerchantMember,
)
from app.merchants.models import Merchant, MerchantMember, MerchantRole
from app.orgs.models import OrgUnit


@dataclass(frozen=True)
class MerchantActor:
    """Region staff, or a merchant's own staff account with its membership."""

    staff: StaffContext | None = None
    user: StaffUser | None = None
    member: MerchantMember | None = None

    @property
    def region_id(self) -> uuid.UUID:
        if self.staff is not None:
            return self.staff.region_id
        assert self.user is not None
        return self.user.region_id

    @property
    def label(self) -> str:
        """Names the actor in ledger transactions and audit columns."""
        if self.staff is not None:
            return f"staff:{self.staff.id}"
        assert self.user is not None
        return f"merchant_staff:{self.user.id}"


async def current_actor(principal: CurrentPrincipal, session: SessionDep) -> MerchantActor:
    if principal.kind == "staff":
        return MerchantActor(staff=await current_staff(principal, session))
    if principal.kind == "merchant_staff":
        user = await current_merchant_user(principal, session)
        member = await repository.membership_of(
            session, staff_user_id=user.id, region_id=user.region_id
        )
        return MerchantActor(user=user, member=member)
    raise Forbidden("This needs a staff or merchant staff token")


CurrentMerchantActor = Annotated[MerchantActor, Depends(current_actor)]


async def merchant_in_region(
    session: AsyncSession, *, region_id: uuid.UUID, merchant_id: uuid.UUID
) -> Merchant:
    merchant = await repository.merchant(session, merchant_id)
    if merchant is None or merchant.region_id != region_id:
        raise MerchantNotFound()
    return merchant


async def paired_units(session: AsyncSession, *, merchant: Merchant) -> list[OrgUnit]:
    return await repository.paired_units(
        session, merchant_id=merchant.id, region_id=merchant.region_id
    )


async def can_manage(session: AsyncSession, *, staff: StaffContext, merchant: Merchant) -> bool:
    if merchant.region_id != staff.region_id:
        return False
    if staff.is_center_admin:
        return True
    return any(staff.is_admin_of(unit) for unit in await paired_units(session, merchant=merchant))


async def merchant_for(
    session: AsyncSession,
    *,
    actor: MerchantActor,
    merchant_id: uuid.UUID,
    owner: bool = False,
) -> Merchant:
    """The merchant if the actor may act on it: its managers, its owner, or (unless
    `owner`) its cashiers; 404 across regions."""
    merchant = await merchant_in_region(session, region_id=actor.region_id, merchant_id=merchant_id)
    if actor.staff is not None:
        if not await can_manage(session, staff=actor.staff, merchant=merchant):
            raise NotMerchantManager()
        return merchant
    member = actor.member
    if member is None or member.merchant_id != merchant.id:
        raise NotMerchantMember()
    if owner and member.role != MerchantRole.merchant_owner:
        raise MerchantOwnerRequired()
    return merchant
