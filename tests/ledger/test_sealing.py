"""Sealing: committed transactions go into signed, chained blocks per region, and a
transaction's inclusion proof checks out with the region's public key alone."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import uuid
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, inspect, select, update

from app.core import clock
from app.ledger import sealing
from app.ledger import service as ledger
from app.ledger.heads import HeadLog
from app.ledger.models import LedgerTransaction, TxKind
from app.ledger.sealing import Block, SealedTransaction, SealState, SigningKey
from app.ledger.signer import DEV_KEY_FILE
from tests.ledger.sealing_support import issue, seal, signer
from tests.rewards.support import count


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def check_proof_independently(proof: dict[str, Any], jwks: dict[str, Any]) -> None:
    """What a third party does with the JSON and the public key, without this app's code:
    RFC 6962 leaf hashing, the RFC 9162 inclusion check, Ed25519 over the signed header."""
    leaf = _sha256(b"\x00" + proof["transaction"].encode())
    assert leaf.hex() == proof["leaf_hash"]
    fn, sn, r = proof["leaf_index"], proof["tree_size"] - 1, leaf
    for sibling_hex in proof["audit_path"]:
        sibling = bytes.fromhex(sibling_hex)
        assert sn > 0, "audit path longer than the tree"
        if fn % 2 == 1 or fn == sn:
            r = _sha256(b"\x01" + sibling + r)
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _sha256(b"\x01" + r + sibling)
        fn >>= 1
        sn >>= 1
    assert sn == 0, "audit path shorter than the tree"

    block = proof["block"]
    signed = block["signed_header"].encode()
    header = json.loads(signed)
    assert header == block["header"]
    assert r.hex() == header["merkle_root"]
    assert _sha256(signed).hex() == block["block_hash"]
    [jwk] = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    assert (jwk["kty"], jwk["crv"]) == ("OKP", "Ed25519")
    # Raises InvalidSignature when the header or signature was changed.
    Ed25519PublicKey.from_public_bytes(_b64url(jwk["x"])).verify(
        _b64url(block["signature"]), signed
    )


async def blocks_of(app: Any, region_id: uuid.UUID) -> list[Block]:
    async with app.state.db.sessions() as session:
        rows = await session.scalars(
            select(Block).where(Block.region_id == region_id).order_by(Block.height)
        )
        return list(rows)


async def test_the_job_seals_each_regions_transactions_into_a_chain_of_blocks(
    app: Any, world: Any
) -> None:
    for amount in (10, 20, 30):
        await issue(
            app, region_id=world.region.id, volunteer_id=world.volunteer_a.id, amount=amount
        )
    await issue(
        app, region_id=world.other_region.id, volunteer_id=world.other_volunteer.id, amount=5
    )

    assert await seal(app) == 4
    assert await seal(app) == 0
    [first] = await blocks_of(app, world.region.id)
    assert (first.height, first.tx_count, first.prev_hash) == (1, 3, "0" * 64)
    assert len(await blocks_of(app, world.other_region.id)) == 1

    await issue(app, region_id=world.region.id, volunteer_id=world.volunteer_b.id, amount=7)
    assert await seal(app) == 1
    _, second = await blocks_of(app, world.region.id)
    assert (second.height, second.tx_count, second.prev_hash) == (2, 1, first.block_hash)
    assert await count(app, SealedTransaction) == 5
    async with app.state.db.sessions() as session:
        assert await sealing.verify_blocks(session) == []


async def test_a_block_orders_its_transactions_by_sequence(app: Any, world: Any) -> None:
    for amount in range(1, 6):
        await issue(
            app, region_id=world.region.id, volunteer_id=world.volunteer_a.id, amount=amount
        )
    await seal(app)

    async with app.state.db.sessions() as session:
        rows = await session.execute(
            select(SealedTransaction.position, LedgerTransaction.seq)
            .join(LedgerTransaction, LedgerTransaction.id == SealedTransaction.transaction_id)
            .order_by(SealedTransaction.position)
        )
        seqs = [seq for _, seq in rows]
    assert seqs == sorted(seqs)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8])
async def test_every_proof_checks_out_with_the_public_key_alone(
    app: Any, world: Any, client: Any, size: int
) -> None:
    txs = [
        await issue(app, region_id=world.region.id, volunteer_id=world.volunteer_a.id, amount=n)
        for n in range(1, size + 1)
    ]
    await seal(app)
    jwks = (await client.get(f"/v1/regions/{world.region.id}/ledger-keys")).json()

    for tx in txs:
        r = await client.get(
            f"/v1/ledger/transactions/{tx.id}/proof", headers=world.auth["center_admin"]
        )
        assert r.status_code == 200, r.text
        proof = r.json()
        assert proof["tree_size"] == size
        check_proof_independently(proof, jwks)


async def test_a_volunteer_proves_a_transaction_of_their_wallet(
    app: Any, world: Any, client: Any
) -> None:
    tx = await issue(app, region_id=world.region.id, volunteer_id=world.volunteer_a.id, amount=40)
    await issue(app, region_id=world.region.id, volunteer_id=world.volunteer_b.id, amount=9)
    await seal(app)

    r = await client.get(
        f"/v1/ledger/transactions/{tx.id}/proof", headers=world.auth["volunteer_a"]
    )
    assert r.status_code == 200, r.text
    proof = r.json()
    jwks = (await client.get(f"/v1/regions/{world.region.id}/ledger-keys")).json()
    check_proof_independently(proof, jwks)
    content = json.loads(proof["transaction"])
    assert content["id"] == str(tx.id)
    assert content["kind"] == "issue"
    assert sorted(p["amount"] for p in content["postings"]) == [-40, 40]


async def test_a_changed_transaction_fails_the_independent_check(
    app: Any, world: Any, client: Any
) -> None:
    tx = await issue(app, region_id=world.region.id, volunteer_id=world.volunteer_a.id, amount=40)
    await issue(app, region_id=world.region.id, volunteer_id=world.volunteer_a.id, amount=1)
    await seal(app)
    proof = (
        await client.get(
            f"/v1/ledger/transactions/{tx.id}/proof", headers=world.auth["volunteer_a"]
        )
    ).json()
    jwks = (await client.get(f"/v1/regions/{world.region.id}/ledger-keys")).json()

    forged = {**proof, "transaction": proof["transaction"].replace("40", "400")}
    forged["leaf_hash"] = _sha256(b"\x00" + forged["transaction"].encode()).hex()
    with pytest.raises(AssertionError):
        check_proof_independently(forged, jwks)
    resigned = json.loads(json.dumps(proof))
    resigned["block"]["header"]["merkle_root"] = "00" * 32
    resigned["block"]["signed_header"] = json.dumps(
        resigned["block"]["header"], sort_keys=True, separators=(",", ":")
    )
    with pytest.raises(AssertionError):
        check_proof_independently(resigned, jwks)


@pytest.mark.database_owner
async def test_a_transaction_edited_in_the_database_has_a_failing_proof(
    app: Any, world: Any, client: Any
) -> None:
    from tests.ledger.test_sealing_tamper import postings, tamper

    edited = await issue(
        app, region_id=world.region.id, volunteer_id=world.volunteer_a.id, amount=7
    )
    other = await issue(app, region_id=world.region.id, volunteer_id=world.volunteer_a.id, amount=2)
    await seal(app)
    await tamper(
        app,
        update(postings)
        .where(postings.c.transaction_id == edited.id)
        .values(amount=postings.c.amount * 3),
    )
    jwks = (await client.get(f"/v1/regions/{world.region.id}/ledger-keys")).json()

    def proof_of(tx: Any) -> Any:
        return client.get(
            f"/v1/ledger/transactions/{tx.id}/proof", headers=world.auth["volunteer_a"]
        )

    # The proof shows the edited rows, which the sealed tree does not contain.
    changed = (await proof_of(edited)).json()
    assert sorted(p["amount"] for p in json.loads(changed["transaction"])["postings"]) == [-21, 21]
    with pytest.raises(AssertionError):
        check_proof_independently(changed, jwks)
    # The untouched transaction of the same block still proves.
    check_proof_independently((await proof_of(other)).json(), jwks)


async def test_who_may_read_a_proof(app: Any, world: Any, client: Any) -> None:
    tx = await issue(app, region_id=world.region.id, volunteer_id=world.volunteer_a.id, amount=3)
    await seal(app)
    path = f"/v1/ledger/transactions/{tx.id}/proof"

    for who, status, code in [
        ("volunteer_b", 404, "ledger_transaction_not_found"),
        ("organizer_x", 403, "ledger_proof_forbidden"),
        ("institute_admin_x", 403, "ledger_proof_forbidden"),
        ("other_admin", 404, "ledger_transaction_not_found"),
        ("other_volunteer", 404, "ledger_transaction_not_found"),
    ]:
        r = await client.get(path, headers=world.auth[who])
        assert (r.status_code, r.json()["code"]) == (status, code), who
    assert (await client.get(path)).status_code == 401
    unknown = await client.get(
        f"/v1/ledger/transactions/{uuid.uuid4()}/proof", headers=world.auth["center_admin"]
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, "ledger_transaction_not_found")


async def test_an_unsealed_transaction_has_no_proof_yet(app: Any, world: Any, client: Any) -> None:
    tx = await issue(app, region_id=world.region.id, volunteer_id=world.volunteer_a.id, amount=3)

    r = await client.get(
        f"/v1/ledger/transactions/{tx.id}/proof", headers=world.auth["volunteer_a"]
    )
    assert r.status_code == 409
    assert r.json()["code"] == "ledger_transaction_not_sealed"


async def test_the_latest_digest_is_the_regions_newest_signed_head(
    app: Any, world: Any, client: Any
) -> None:
    none_yet = await client.get("/v1/ledger/digests/latest", headers=world.auth["volunteer_a"])
    assert (none_yet.status_code, none_yet.json()["code"]) == (404, "ledger_digest_not_found")

    for amount in (1, 2):
        await issue(
            app, region_id=world.region.id, volunteer_id=world.volunteer_a.id, amount=amount
        )
        await seal(app)
    await issue(
        app, region_id=world.other_region.id, volunteer_id=world.other_volunteer.id, amount=5
    )
    await seal(app)

    for who in ("volunteer_a", "organizer_x", "center_admin"):
        r = await client.get("/v1/ledger/digests/latest", headers=world.auth[who])
        assert r.status_code == 200, r.text
        digest = r.json()
        assert digest["header"]["region_id"] == str(world.region.id)
        assert digest["header"]["height"] == 2
    other = await client.get("/v1/ledger/digests/latest", headers=world.auth["other_volunteer"])
    assert other.json()["header"]["region_id"] == str(world.other_region.id)

    jwks = (await client.get(f"/v1/regions/{world.region.id}/ledger-keys")).json()
    [jwk] = jwks["keys"]
    Ed25519PublicKey.from_public_bytes(_b64url(jwk["x"])).verify(
        _b64url(digest["signature"]), digest["signed_header"].encode()
    )


async def test_the_public_keys_are_public_and_the_private_key_stays_outside_the_database(
    app: Any, world: Any, client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    empty = await client.get(f"/v1/regions/{world.region.id}/ledger-keys")
    assert empty.status_code == 200
    assert empty.json() == {"region_id": str(world.region.id), "keys": []}

    caplog.set_level(logging.DEBUG, logger="liangpiao")
    tx = await issue(app, region_id=world.region.id, volunteer_id=world.volunteer_a.id, amount=3)
    await seal(app)
    async with app.state.db.sessions() as session:
        key = await session.scalar(select(SigningKey))
    assert key is not None

    keys = await client.get(f"/v1/regions/{world.region.id}/ledger-keys")
    [jwk] = keys.json()["keys"]
    assert jwk["kid"] == key.kid
    assert set(jwk) == {"kid", "kty", "crv", "alg", "use", "x", "created_at"}
    proof = await client.get(
        f"/v1/ledger/transactions/{tx.id}/proof", headers=world.auth["volunteer_a"]
    )
    digest = await client.get("/v1/ledger/digests/latest", headers=world.auth["volunteer_a"])
    assert jwk["x"] == sealing.b64url(signer(app).public_key)
    # The signer's key file is the only place the private key is; the database has none.
    pem = (app.state.settings.var_dir / DEV_KEY_FILE).read_bytes()
    private = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(private, Ed25519PrivateKey)
    raw = private.private_bytes_raw()
    async with app.state.db.engine.connect() as conn:
        columns = await conn.run_sync(
            lambda sync: [c["name"] for c in inspect(sync).get_columns("ledger_signing_keys")]
        )
        rows = (await conn.execute(select(SigningKey.__table__))).all()
    assert "private_key" not in columns
    for text in (keys.text, proof.text, digest.text, caplog.text, repr(rows)):
        assert sealing.b64url(raw) not in text
        assert raw.hex() not in text

    unknown = await client.get(f"/v1/regions/{uuid.uuid4()}/ledger-keys")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "region_not_found")


async def test_the_watermark_only_passes_transactions_old_enough_to_have_settled(
    app: Any, world: Any
) -> None:
    old = await issue(app, region_id=world.region.id, volunteer_id=world.volunteer_a.id, amount=1)
    await seal(app)
    with clock.travel(clock.now() + sealing.SETTLE_AFTER + timedelta(seconds=1)):
        await issue(app, region_id=world.region.id, volunteer_id=world.volunteer_a.id, amount=2)
        await seal(app)
    async with app.state.db.sessions() as session:
        state = await session.scalar(
            select(SealState).where(SealState.region_id == world.region.id)
        )
    assert state is not None
    assert state.sealed_through_seq == old.seq


async def _spend(app: Any, session: Any, world: Any, volunteer: Any, amount: int) -> Any:
    merchant = await ledger.merchant_account(
        session, region_id=world.region.id, merchant_id=uuid.uuid4()
    )
    spent = await ledger.spend_from_wallet(
        session,
        region_id=world.region.id,
        volunteer_id=volunteer.id,
        to_account_id=merchant.id,
        amount=amount,
        kind=TxKind.redeem,
        reference_type="test",
        reference_id=str(uuid.uuid4()),
        actor="test",
    )
    return spent.transaction


@pytest.mark.postgres_only
async def test_a_lower_sequence_number_that_commits_late_is_sealed_in_a_later_block(
    app: Any, world: Any
) -> None:
    await issue(app, region_id=world.region.id, volunteer_id=world.volunteer_a.id, amount=10)
    await issue(app, region_id=world.region.id, volunteer_id=world.volunteer_b.id, amount=10)
    await seal(app)

    async with app.state.db.sessions() as slow_session:
        async with slow_session.begin():
            slow = await _spend(app, slow_session, world, world.volunteer_a, 3)
            async with app.state.db.sessions() as fast_session, fast_session.begin():
                fast = await _spend(app, fast_session, world, world.volunteer_b, 4)
            assert slow.seq < fast.seq
            assert await seal(app) == 1
        assert await seal(app) == 1

    _, second, third = await blocks_of(app, world.region.id)
    async with app.state.db.sessions() as session:
        where = {
            row.transaction_id: row.block_id
            for row in await session.scalars(select(SealedTransaction))
        }
        assert await sealing.verify_blocks(session) == []
    assert where[fast.id] == second.id
    assert where[slow.id] == third.id


@pytest.mark.postgres_only
async def test_a_transaction_left_behind_the_watermark_is_swept_up(app: Any, world: Any) -> None:
    await issue(app, region_id=world.region.id, volunteer_id=world.volunteer_a.id, amount=10)
    await issue(app, region_id=world.region.id, volunteer_id=world.volunteer_b.id, amount=10)
    await seal(app)

    # A database transaction open for longer than SETTLE_AFTER breaks the watermark's
    # assumption; the periodic full sweep still seals what it left behind.
    async with app.state.db.sessions() as slow_session:
        async with slow_session.begin():
            slow = await _spend(app, slow_session, world, world.volunteer_a, 3)
            async with app.state.db.sessions() as fast_session, fast_session.begin():
                await _spend(app, fast_session, world, world.volunteer_b, 4)
            with clock.travel(clock.now() + sealing.SETTLE_AFTER * 2):
                assert await seal(app) == 1
        with clock.travel(clock.now() + sealing.SETTLE_AFTER * 3):
            assert await seal(app) == 0
        with clock.travel(clock.now() + sealing.SWEEP_EVERY * 2):
            assert await seal(app) == 1

    async with app.state.db.sessions() as session:
        assert await session.get(SealedTransaction, slow.id) is not None


@pytest.mark.postgres_only
async def test_sealers_running_at_once_build_one_chain(app: Any, world: Any) -> None:
    for n in range(60):
        volunteer = world.volunteer_a if n % 2 else world.volunteer_b
        await issue(app, region_id=world.region.id, volunteer_id=volunteer.id, amount=n + 1)

    await asyncio.gather(
        *(
            sealing.seal_pending(
                app.state.db.sessions,
                signer=signer(app),
                heads=HeadLog.from_settings(app.state.settings),
            )
            for _ in range(6)
        )
    )
    await seal(app)

    blocks = await blocks_of(app, world.region.id)
    assert [b.height for b in blocks] == list(range(1, len(blocks) + 1))
    assert sum(b.tx_count for b in blocks) == 60
    async with app.state.db.sessions() as session:
        sealed = await session.scalar(select(func.count()).select_from(SealedTransaction))
        assert sealed == 60
        assert await sealing.verify_blocks(session) == []


async def test_an_idle_region_is_swept_once_an_hour(app: Any, world: Any) -> None:
    await issue(app, region_id=world.region.id, volunteer_id=world.volunteer_a.id, amount=1)
    await seal(app)

    async def swept_at() -> Any:
        async with app.state.db.sessions() as session:
            return await session.scalar(
                select(SealState.swept_at).where(SealState.region_id == world.region.id)
            )

    first = await swept_at()
    assert await seal(app) == 0
    assert await swept_at() == first
    later = clock.now() + sealing.SWEEP_EVERY + timedelta(minutes=1)
    with clock.travel(later):
        assert await seal(app) == 0
    assert await swept_at() > first
