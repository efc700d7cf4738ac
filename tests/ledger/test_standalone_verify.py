"""The standalone verifier checks what the service produced, with the public key alone:
a transaction's proof from the proof route, and a whole ledger from `export-ledger`, run
as a third party would (a copied file, Python and `cryptography`, nothing of the app)."""

from __future__ import annotations

import ast
import asyncio
import json
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from app.core import clock
from app.core.config import Settings
from app.ledger import sealing, standalone_verify
from app.ledger.export import run_cli as export_cli
from app.ledger.heads import HeadLog
from app.ledger.standalone_verify import b64url
from tests.ledger.sealing_support import seal, signer
from tests.ledger.test_verify_causes import earn

MODULE = Path(standalone_verify.__file__)


def run_copy(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The verifier copied out of the project and run in isolation (`-I`: no project on
    the path, no PYTHON* variables)."""
    copy = tmp_path / "third-party" / "standalone_verify.py"
    copy.parent.mkdir(exist_ok=True)
    shutil.copyfile(MODULE, copy)
    return subprocess.run(
        [sys.executable, "-I", str(copy), *args],
        cwd=copy.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_it_imports_nothing_but_the_standard_library_and_cryptography() -> None:
    tree = ast.parse(MODULE.read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    assert roots - {"cryptography"} <= set(sys.stdlib_module_names) | {"__future__"}
    assert "app" not in roots


@pytest.fixture
async def sealed(app: Any, world: Any, tmp_path: Path) -> dict[str, Any]:
    issued = [await earn(app, world.volunteer_a, 60 * n) for n in (1, 2, 3)]
    await seal(app)
    issued.append(await earn(app, world.volunteer_b, 60))
    await seal(app)
    await earn(app, world.volunteer_b, 30)  # left unsealed
    key = tmp_path / "key.txt"
    key.write_text(b64url(signer(app).public_key))
    return {"issued": issued, "key": key, "heads": HeadLog.from_settings(app.state.settings).path}


async def test_a_proof_the_service_produced_checks_out(
    client: Any, world: Any, sealed: dict[str, Any], tmp_path: Path
) -> None:
    tx_id = sealed["issued"][1].transaction_id
    proof = await client.get(
        f"/v1/ledger/transactions/{tx_id}/proof", headers=world.auth["volunteer_a"]
    )
    assert proof.status_code == 200, proof.text
    jwks = await client.get(f"/v1/regions/{world.region.id}/ledger-keys")
    (tmp_path / "proof.json").write_text(proof.text)
    (tmp_path / "jwks.json").write_text(jwks.text)

    for key in (str(sealed["key"]), str(tmp_path / "jwks.json")):
        result = await asyncio.to_thread(
            run_copy,
            tmp_path,
            "proof",
            str(tmp_path / "proof.json"),
            "--key",
            key,
            "--pin",
            str(sealed["heads"]),
        )
        assert (result.returncode, result.stdout) == (0, "proof OK\n"), result.stderr

    forged = proof.json()
    forged["transaction"] = forged["transaction"].replace('"amount":20', '"amount":2000')
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    result = await asyncio.to_thread(
        run_copy, tmp_path, "proof", str(tmp_path / "forged.json"), "--key", str(sealed["key"])
    )
    assert result.returncode == 1
    assert "leaf_hash is not the hash of the transaction" in result.stdout

    other = tmp_path / "other.txt"
    other.write_text(b64url(bytes(range(32))))
    result = await asyncio.to_thread(
        run_copy, tmp_path, "proof", str(tmp_path / "proof.json"), "--key", str(other)
    )
    assert result.returncode == 1
    assert "which is not given" in result.stdout


async def test_an_exported_ledger_checks_out_and_an_edit_of_it_does_not(
    settings: Settings, sealed: dict[str, Any], tmp_path: Path
) -> None:
    exported = tmp_path / "ledger.json"
    assert await asyncio.to_thread(export_cli, settings, str(exported)) == 0
    document = json.loads(exported.read_text())
    [region] = [r for r in document["regions"] if r["blocks"]]
    assert [len(b["transactions"]) for b in region["blocks"]] == [3, 1]
    assert len(region["unsealed"]) == 1

    result = await asyncio.to_thread(
        run_copy,
        tmp_path,
        "ledger",
        str(exported),
        "--key",
        str(sealed["key"]),
        "--pin",
        str(sealed["heads"]),
    )
    assert (result.returncode, result.stdout) == (0, "ledger OK\n"), result.stderr

    region["blocks"][0]["transactions"][0] = region["blocks"][0]["transactions"][0].replace(
        '"amount":10', '"amount":1000'
    )
    dropped = region["blocks"][1]["transactions"].pop()
    region["unsealed"].append(dropped)
    exported.write_text(json.dumps(document))
    problems = standalone_verify.verify_export(
        document, standalone_verify.load_keys(str(sealed["key"]))
    )
    assert any("do not give its Merkle root" in p for p in problems)
    assert any("postings summing to" in p for p in problems)
    assert any("holds 0 transactions, its header 1" in p for p in problems)

    result = await asyncio.to_thread(
        run_copy, tmp_path, "ledger", str(exported), "--key", str(sealed["key"])
    )
    assert result.returncode == 1
    assert "problem(s)" in result.stdout


async def test_an_export_missing_an_attested_sequence_number_is_caught(
    app: Any, world: Any, settings: Settings, tmp_path: Path
) -> None:
    await earn(app, world.volunteer_a, 60)
    await earn(app, world.volunteer_b, 60)
    with clock.travel(clock.now() + sealing.SETTLE_AFTER + timedelta(seconds=1)):
        # One transaction sealed; the block attests the sequence through the second.
        async with app.state.db.sessions() as session, session.begin():
            await sealing.seal_block(
                session, region_id=world.region.id, signer=signer(app), limit=1
            )
    exported = tmp_path / "ledger.json"
    assert await asyncio.to_thread(export_cli, settings, str(exported)) == 0
    document = json.loads(exported.read_text())
    keys = {signer(app).key_id: b64url(signer(app).public_key)}
    assert standalone_verify.verify_export(document, keys) == []

    [region] = [r for r in document["regions"] if r["blocks"]]
    removed = json.loads(region["unsealed"].pop())

    assert standalone_verify.verify_export(document, keys) == [
        f"sequence numbers {removed['seq']} to {removed['seq']} are missing, though the blocks "
        f"attest the ledger through {removed['seq']} and record them as used"
    ]
