"""`python -m host_tools web`: the page and the WebSocket bridge to devsim, the token on a
non-loopback address, the loopback Host/Origin gate, one driver and watchers, bad input."""
import asyncio
import json
import socket
import urllib.error
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.conftest import run_cli
from tests.webrig import Bridge, Devsim

_RECV_S = 10


@pytest.fixture(scope="module")
def device(tmp_path_factory):
    sim = Devsim(tmp_path_factory.mktemp("flash"))
    yield sim
    sim.close()


@pytest.fixture
def bridge(device):
    web = Bridge(device.path)
    yield web
    assert web.close() == 0  # SIGTERM ends it cleanly


def http(url, headers=None):
    """(status, body, headers) of a GET."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=_RECV_S) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers


def ws_url(url, token=None):
    base = url.split("?")[0].replace("http://", "ws://")
    return base + "ws" + ("?token=" + token if token else "")


async def answer(ws):
    """The next device answer (a line with "ok"), skipping bridge notes and telemetry."""
    while True:
        doc = json.loads(await asyncio.wait_for(ws.recv(), _RECV_S))
        if "ok" in doc:
            return doc


async def role(ws):
    while True:
        doc = json.loads(await asyncio.wait_for(ws.recv(), _RECV_S))
        if doc.get("bridge") == "role":
            return doc["role"]


def test_serves_the_page_and_bridges_requests(bridge):
    assert bridge.url.startswith("http://127.0.0.1:")
    status, body, headers = http(bridge.url)
    assert status == 200 and b"<html" in body.lower()
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert http(bridge.url + "../host_tools/cmd_web.py")[0] == 404  # nothing outside web/
    assert http(bridge.url + "nothing.js")[0] == 404

    async def talk():
        async with connect(ws_url(bridge.url)) as ws:
            assert await role(ws) == "driver"
            await ws.send(json.dumps({"cmd": "info"}))
            info = await answer(ws)
            assert info["ok"] and info["board"] == "sim"
            await ws.send("two\nlines")
            assert "one text line" in (await answer(ws))["error"]
    asyncio.run(talk())


def test_loopback_refuses_a_foreign_host_or_origin(bridge):
    port = bridge.url.split(":")[2].strip("/")
    assert http(bridge.url, {"Host": "evil.example:%s" % port})[0] == 403  # DNS rebinding
    assert http(bridge.url, {"Host": "localhost:%s" % port})[0] == 200

    async def foreign():
        with pytest.raises(InvalidStatus) as refused:
            async with connect(ws_url(bridge.url), origin="http://evil.example"):
                pass
        assert refused.value.response.status_code == 403
    asyncio.run(foreign())


def test_one_client_drives_the_others_watch(bridge, device):
    async def clients():
        async with connect(ws_url(bridge.url)) as first:
            assert await role(first) == "driver"
            async with connect(ws_url(bridge.url)) as second:
                assert await role(second) == "watcher"
                await second.send(json.dumps({"cmd": "start"}))  # refused by the bridge
                refused = await answer(second)
                assert not refused["ok"] and "another client drives" in refused["error"]
                await second.send(json.dumps({"cmd": "status"}))  # read-only: answered to it alone
                status = await answer(second)
                assert status["ok"] and status["state"] == "OFF"
                await first.send(json.dumps({"cmd": "set", "level": 2}))
                assert (await answer(first))["level"] == 2
                await first.close()
                assert await role(second) == "driver"  # the next in line takes over
                await second.send(json.dumps({"cmd": "set", "level": 1}))
                assert (await answer(second))["level"] == 1
    asyncio.run(clients())


def test_another_address_needs_the_token(device):
    web = Bridge(device.path, "--host", "0.0.0.0")
    try:
        assert "?token=" in web.url
        url, token = web.url.split("?token=")
        assert len(token) >= 32
        local = url.replace("0.0.0.0", "127.0.0.1")
        for path in ("", "index.html", "ws", "missing.js", "?token=wrong", "?token=" + token[:-1]):
            assert http(local + path)[0] == 403, path
        assert http(local, {"Cookie": "roller_token=wrong"})[0] == 403

        async def handshake(token_given):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(ws_url(local, token_given)):
                    pass
            assert refused.value.response.status_code == 403
        asyncio.run(handshake(None))
        asyncio.run(handshake("x" + token))

        status, body, headers = http(local + "?token=" + token)
        assert status == 200
        cookie = headers["Set-Cookie"].split(";")[0]
        assert "HttpOnly" in headers["Set-Cookie"]
        assert http(local + "index.html", {"Cookie": cookie})[0] == 200  # the page's own files

        async def with_token():
            async with connect(ws_url(local, token)) as ws:
                await ws.send(json.dumps({"cmd": "status"}))
                assert (await answer(ws))["ok"]
        asyncio.run(with_token())
    finally:
        assert web.close() == 0


def test_bad_input_is_one_line(device):
    code, out, err = run_cli("web", "--port", "/dev/nonexistent-roller")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "does not exist" in err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        code, out, err = run_cli("web", "--port", device.path, "--http-port", str(busy.getsockname()[1]))
    assert code == 2 and "cannot listen" in err and len(err.strip().splitlines()) == 1, err
    code, out, err = run_cli("web", "--port", device.path, "--http-port", "70000")
    assert code == 2 and len(err.strip().splitlines()) == 1
