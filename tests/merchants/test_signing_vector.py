"""The terminal signing test vector of docs/integrating.md §6 is the server's own.

The vector, the signature base and both signers are read from the page itself: the
Python signer reproduces the published headers, the server's parser computes the
published base from the request and its verifier accepts the signature; the Node signer
is run too where Node is installed. Outside production a `signature_invalid` refusal
shows the base the server computed; in production it does not.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app.main import create_app
from app.merchants import signing
from tests.merchants.conftest import Shop

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrating.md"


def _section() -> str:
    text = DOC.read_text()
    return text[text.index("## 6. Terminals at the counter") :]


def _block(language: str) -> str:
    found = re.search(rf"```{language}\n(.*?)\n```", _section(), re.DOTALL)
    assert found, f"no {language} block in §6"
    return found.group(1)


def _vector() -> dict[str, Any]:
    vector: dict[str, Any] = json.loads(_block("json"))
    return vector


def test_the_python_signer_of_the_page_reproduces_the_vector() -> None:
    vector = _vector()
    namespace: dict[str, Any] = {}
    exec(compile(_block("python"), "integrating.md", "exec"), namespace)  # noqa: S102

    headers = namespace["sign_request"](
        vector["method"],
        vector["path"],
        vector["query"],
        vector["body"].encode(),
        key_id=vector["key_id"],
        private_key_pem=vector["private_key"],
        created=vector["created"],
        nonce=vector["nonce"],
    )

    assert headers == vector["headers"]


def test_the_server_computes_the_published_base_and_accepts_the_signature() -> None:
    vector = _vector()
    headers = vector["headers"]

    signed = signing.parse(
        method=vector["method"],
        path=vector["path"],
        query=vector["query"],
        body=vector["body"].encode(),
        signature_input=headers["Signature-Input"],
        signature=headers["Signature"],
        digest_header=headers["Content-Digest"],
    )

    assert signed.base == _block("text").encode()
    assert signed.key_id == vector["key_id"]
    assert (signed.created, signed.nonce) == (vector["created"], vector["nonce"])
    signing.verify(vector["public_key"], signed)  # raises SignatureInvalid if not
    # One byte of the body otherwise, and the digest no longer matches it.
    with pytest.raises(signing.ContentDigestMismatch):
        signing.parse(
            method=vector["method"],
            path=vector["path"],
            query=vector["query"],
            body=vector["body"].replace("5", "6").encode(),
            signature_input=headers["Signature-Input"],
            signature=headers["Signature"],
            digest_header=headers["Content-Digest"],
        )


@pytest.mark.skipif(shutil.which("node") is None, reason="Node is not installed")
def test_the_node_signer_of_the_page_reproduces_the_vector(tmp_path: Path) -> None:
    vector = _vector()
    (tmp_path / "signer.mjs").write_text(_block("js"))
    (tmp_path / "vector.json").write_text(json.dumps(vector))
    (tmp_path / "run.mjs").write_text(
        'import { readFileSync } from "node:fs";\n'
        'import { signRequest } from "./signer.mjs";\n'
        'const v = JSON.parse(readFileSync(new URL("./vector.json", import.meta.url)));\n'
        "console.log(JSON.stringify(signRequest({method: v.method, path: v.path, "
        "query: v.query, body: v.body, keyId: v.key_id, privateKeyPem: v.private_key, "
        "created: v.created, nonce: v.nonce})));\n"
    )
    node = shutil.which("node")
    assert node is not None
    out = subprocess.run(
        [node, str(tmp_path / "run.mjs")], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == vector["headers"]


async def _badly_signed(http: httpx.AsyncClient, shop: Shop) -> httpx.Response:
    signed = shop.signer.sign_json(
        "POST", "/v1/terminal/redemptions", {"code": "8" * 18, "request_no": "T-9", "amount": 1}
    )
    label = signed.headers["Signature"].partition("=")[0]
    forged = {**signed.headers, "Signature": f"{label}=:{'A' * 86}==:"}
    assert forged["Signature"] != signed.headers["Signature"]
    return await http.post(signed.url, content=signed.body, headers=forged)


async def test_outside_production_a_bad_signature_shows_the_base_the_server_computed(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    response = await _badly_signed(client, shop)

    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "signature_invalid"
    lines = body["signature_base"].split("\n")
    assert lines[0] == '"@method": POST'
    assert lines[1] == '"@path": /v1/terminal/redemptions'
    assert lines[2] == '"@query": ?'
    assert lines[3].startswith('"content-digest": sha-256=:')
    assert lines[4].startswith('"@signature-params": ("@method" "@path" "@query"')
    assert f'keyid="{shop.terminal.id}"' in lines[4]


async def test_in_production_a_bad_signature_does_not_show_the_base(app: Any, shop: Shop) -> None:
    prod = app.state.settings.model_copy(
        update={
            "environment": "prod",
            "wechat_secret": SecretStr("a-real-looking-secret"),
            "wechat_api_base": "https://api.weixin.qq.com",
        }
    )
    production = create_app(prod)
    async with production.router.lifespan_context(production):
        transport = httpx.ASGITransport(app=production, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            response = await _badly_signed(http, shop)

    assert response.status_code == 401
    assert response.json()["code"] == "signature_invalid"
    assert "signature_base" not in response.json()
