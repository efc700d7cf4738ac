"""The benchmarks' load-generator client: what it sends, what it reads back, and its
one connection's reuse (kept alive, opened again when the server closes it)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from bench.harness import HttpClient


@dataclass
class _Server:
    """A scripted HTTP/1.1 server: records each request, answers with the status the
    request names in its `X-Status` header and echoes the body; `X-Close` closes the
    connection after the answer, `X-Drop` closes it without one."""

    url: str = ""
    connections: int = 0
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                line, *lines = head.decode().split("\r\n")[:-2]
                headers = {k.lower(): v for k, v in (h.split(": ", 1) for h in lines)}
                body = await reader.readexactly(int(headers["content-length"]))
                self.requests.append((line, headers, body))
                if "x-drop" in headers:
                    break
                close = "x-close" in headers
                writer.write(
                    f"HTTP/1.1 {headers.get('x-status', '200')} X\r\n"
                    f"Content-Length: {len(body)}\r\n"
                    f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
                if close:
                    break
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[_Server]:
    scripted = _Server()
    listener = await asyncio.start_server(scripted.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    scripted.url = f"http://127.0.0.1:{port}"
    async with listener:
        yield scripted


async def test_requests_go_out_as_sent_and_answers_come_back_on_one_connection(
    server: _Server,
) -> None:
    client = HttpClient()
    try:
        first = await client.post(f"{server.url}/spend?x=1", json={"amount": 3, "名": "良票"})
        second = await client.post(
            f"{server.url}/other", data=b"raw", headers={"X-Status": "409", "X-Key": "k"}
        )
    finally:
        client.close()

    assert (first.status, first.json()) == (200, {"amount": 3, "名": "良票"})
    assert (second.status, second.body) == (409, b"raw")
    assert server.connections == 1
    (line1, headers1, body1), (line2, headers2, body2) = server.requests
    assert line1 == "POST /spend?x=1 HTTP/1.1"
    assert headers1["content-type"] == "application/json"
    assert json.loads(body1) == {"amount": 3, "名": "良票"}
    assert line2 == "POST /other HTTP/1.1"
    assert headers2["x-key"] == "k"
    assert "content-type" not in headers2
    assert body2 == b"raw"


async def test_a_connection_the_server_closes_is_opened_again(server: _Server) -> None:
    client = HttpClient()
    try:
        closing = await client.post(f"{server.url}/a", data=b"1", headers={"X-Close": "1"})
        after = await client.post(f"{server.url}/b", data=b"2")
    finally:
        client.close()

    assert (closing.status, closing.body, after.status, after.body) == (200, b"1", 200, b"2")
    assert server.connections == 2


async def test_a_connection_lost_before_the_answer_fails_the_request(server: _Server) -> None:
    client = HttpClient()
    try:
        with pytest.raises(ConnectionError):
            await client.post(f"{server.url}/a", data=b"1", headers={"X-Drop": "1"})
        again = await client.post(f"{server.url}/b", data=b"2")
    finally:
        client.close()

    assert (again.status, again.body) == (200, b"2")
    assert server.connections == 2
