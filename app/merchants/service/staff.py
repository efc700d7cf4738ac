"""Merchant staff: the logins of a merchant's owners and cashiers, managed by its
managers and owner."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.security import hash_password
from app.identity import revocation
from app.identity.models import StaffKind, StaffUser
from app.merchants import repository, schemas
from app.merchants.access import MerchantActor, merchant_for
from app.merchants.errors import MerchantStaffNotFound, MerchantUsernameTaken, NotMerchantManager
from app.merchants.models import MerchantMember, MerchantRole

# Merchant staff


def _staff_out(user: StaffUser, member: MerchantMember) -> schemas.MerchantStaff:
    return schemas.MerchantStaff(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=member.role,
        is_active=user.is_active,
        created_at=user.created_at,
    )


async def create_merchant_staff(
    session: AsyncSession,
    *,
    actor: MerchantActor,
    merchant_id: uuid.UUID,
    data: schemas.MerchantStaffCreate,
) -> schemas.MerchantStaff:
    """A login for the merchant: its managers create owners and cashiers, its owner cashiers."""
    merchant = await merchant_for(session, actor=actor, merchant_id=merchant_id, owner=True)
    if actor.staff is None and data.role != MerchantRole.cashier:
        raise NotMerchantManager("Owners are created by the merchant's managers")
    if await repository.username_taken(session, data.username):
        raise MerchantUsernameTaken()
    user = StaffUser(
        region_id=merchant.region_id,
        kind=StaffKind.merchant,
        username=data.username,
        display_name=data.display_name,
        password_hash=await hash_password(data.password),
    )
    session.add(user)
    await session.flush()
    member = MerchantMember(
        region_id=merchant.region_id, merchant_id=merchant.id, staff_user_id=user.id, role=data.role
    )
    session.add(member)
    await session.flush()
    return _staff_out(user, member)


async def list_merchant_staff(
    session: AsyncSession, *, actor: MerchantActor, merchant_id: uuid.UUID
) -> list[schemas.MerchantStaff]:
    merchant = await merchant_for(session, actor=actor, merchant_id=merchant_id, owner=True)
    rows = await repository.members_of(session, merchant_id=merchant.id)
    return [_staff_out(user, member) for user, member in rows]


async def _member_in_reach(
    session: AsyncSession, *, actor: MerchantActor, merchant_id: uuid.UUID, staff_id: uuid.UUID
) -> tuple[StaffUser, MerchantMember]:
    """A current member of the merchant the actor may manage: its managers manage owners
    and cashiers, its owner cashiers. Anyone else's account is not found."""
    merchant = await merchant_for(session, actor=actor, merchant_id=merchant_id, owner=True)
    row = await repository.lock_member(
        session, merchant_id=merchant.id, region_id=merchant.region_id, staff_id=staff_id
    )
    if row is None:
        raise MerchantStaffNotFound()
    user, member = row
    if actor.staff is None and member.role != MerchantRole.cashier:
        raise NotMerchantManager("Owners are managed by the merchant's managers")
    return user, member


async def update_merchant_staff(
    session: AsyncSession,
    *,
    actor: MerchantActor,
    merchant_id: uuid.UUID,
    staff_id: uuid.UUID,
    data: schemas.MerchantStaffUpdate,
) -> schemas.MerchantStaff:
    """Rename, disable, re-enable or give a new password to a merchant staff account.
    Disabling it or changing its password ends its logins at once."""
    user, member = await _member_in_reach(
        session, actor=actor, merchant_id=merchant_id, staff_id=staff_id
    )
    if data.display_name is not None:
        user.display_name = data.display_name
    ends_logins = data.is_active is False or data.password is not None
    if data.is_active is not None:
        user.is_active = data.is_active
    if data.password is not None:
        user.password_hash = await hash_password(data.password)
    await session.flush()
    if ends_logins:
        await revocation.end_staff_logins(session, user=user)
    return _staff_out(user, member)


async def remove_merchant_staff(
    session: AsyncSession, *, actor: MerchantActor, merchant_id: uuid.UUID, staff_id: uuid.UUID
) -> None:
    """Take an account off the merchant: disabled for good, its logins ended at once. The
    account itself is kept, so that what it did stays attributed."""
    user, member = await _member_in_reach(
        session, actor=actor, merchant_id=merchant_id, staff_id=staff_id
    )
    by = actor.staff.user if actor.staff is not None else actor.user
    assert by is not None
    member.removed_at = clock.now()
    member.removed_by_id = by.id
    user.is_active = False
    await session.flush()
    await revocation.end_staff_logins(session, user=user)
