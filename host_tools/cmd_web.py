"""`web`: the companion page (web/) on a local HTTP server, bridged by a WebSocket to the device.

One port serves both: GET of a file under web/, and the WebSocket at /ws that carries C4 lines
(one text message per line, both ways). Bound to loopback by default; on any other address every
request must carry the token printed at start (?token=..., then a cookie), as notebook servers
do. On loopback the Host and Origin headers must name the loopback server, so a web site open in
the same browser can neither read the page nor open the WebSocket (DNS rebinding, cross-site
WebSocket). One client drives (the first; the next in line when it leaves); the others watch: they
get the telemetry, and their read-only requests (info, status, log, history) are answered to
them alone. docs/companion.md and docs/security.md.
"""
import ipaddress
import json
import os
import sys

from host_tools import paths

WEB_DIR = os.path.join(paths.ROOT, "web")
READ_ONLY = ("info", "status", "log", "history")  # what a watcher may ask
ANSWER_S = 5.0  # a request unanswered this long gets an error, and its place in line is freed
TOKEN_COOKIE = "roller_token"
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml",
          ".json": "application/json", ".txt": "text/plain; charset=utf-8"}
_CSP = ("default-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'")


def register(sub):
    p = sub.add_parser(
        "web",
        help="the companion page on a local server, bridged to the device by a WebSocket",
        description="Serve web/ and bridge a WebSocket to the device at PORT (a board, devsim or "
        "emu). Prints the page's URL first (stdout). Loopback only unless --host; any other "
        "address needs the random token in that URL.",
    )
    p.add_argument("--port", required=True, help="the device's serial port (a board, devsim or emu pty)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; any other requires the token)")
    p.add_argument("--http-port", type=int, default=8321,
                   help="TCP port of the page (default 8321; 0: any free)")
    p.set_defaults(func=run)


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def web_files():
    """{url path: file} for every file under web/ (nothing else is ever served)."""
    files = {}
    for folder, _, names in os.walk(WEB_DIR):
        for name in names:
            full = os.path.join(folder, name)
            files["/" + os.path.relpath(full, WEB_DIR).replace(os.sep, "/")] = full
    files["/"] = files.get("/index.html")
    return files


def split_query(path):
    """(path, {name: value}) of a request target."""
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(path)
    return parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}


def cookie(headers, name):
    for line in headers.get_all("Cookie"):
        for item in line.split(";"):
            key, _, value = item.strip().partition("=")
            if key == name:
                return value
    return None


class Bridge:
    """The device's lines to the clients, the clients' lines to the device."""

    def __init__(self, link, token, loopback, bound_port):
        self.link = link
        self.token = token
        self.loopback = loopback
        self.port = bound_port
        self.files = web_files()
        self.clients = []  # in order of arrival: clients[0] drives
        self.waiting = []  # [client, deadline] per request sent, in order: the device answers in order
        self.loop = None

    # --- HTTP: the page's files, and the gate in front of the WebSocket ---------------------
    def allowed_host(self, headers):
        host = headers.get("Host", "")
        if not self.loopback:
            return True  # the token decides
        return host in ("127.0.0.1:%d" % self.port, "localhost:%d" % self.port, "[::1]:%d" % self.port)

    def has_token(self, query, headers):
        if self.token is None:
            return True
        import hmac

        given = query.get("token") or cookie(headers, TOKEN_COOKIE) or ""
        return hmac.compare_digest(given.encode(), self.token.encode())

    def process_request(self, connection, request):
        from websockets.datastructures import Headers
        from websockets.http11 import Response

        path, query = split_query(request.path)
        headers = request.headers
        if not self.allowed_host(headers):
            return connection.respond(403, "forbidden: not a loopback Host\n")
        if not self.has_token(query, headers):
            return connection.respond(403, "forbidden: the URL printed at start has the token\n")
        if path == "/ws":
            origin = headers.get("Origin")
            if origin is not None and origin not in ("http://" + headers.get("Host", ""),):
                return connection.respond(403, "forbidden: another origin\n")
            return None  # the WebSocket handshake goes on
        full = self.files.get(path)
        if full is None:
            return connection.respond(404, "not found\n")
        with open(full, "rb") as f:
            body = f.read()
        out = Headers()
        out["Content-Type"] = _TYPES.get(os.path.splitext(full)[1], "application/octet-stream")
        out["Content-Length"] = str(len(body))
        out["Cache-Control"] = "no-store"
        out["X-Content-Type-Options"] = "nosniff"
        out["Content-Security-Policy"] = _CSP
        out["Referrer-Policy"] = "no-referrer"  # the token stays out of other sites' logs
        out["Connection"] = "close"
        if self.token is not None:
            out["Set-Cookie"] = "%s=%s; Path=/; HttpOnly; SameSite=Strict" % (TOKEN_COOKIE, self.token)
        return Response(200, "OK", out, body)

    # --- WebSocket clients ---------------------------------------------------------------------
    async def handler(self, ws):
        self.clients.append(ws)
        await self._send(ws, {"bridge": "hello", "device": self.link.name})
        await self._announce_roles()
        try:
            async for message in ws:
                await self._from_client(ws, message)
        except Exception:  # noqa: BLE001 - a dropped client is not the bridge's problem
            pass
        finally:
            self.clients.remove(ws)
            for entry in self.waiting:
                if entry[0] is ws:
                    entry[0] = None  # its answer, when it comes, goes nowhere
            await self._announce_roles()

    async def _send(self, ws, obj_or_line):
        text = obj_or_line if isinstance(obj_or_line, str) else json.dumps(obj_or_line, sort_keys=True)
        try:
            await ws.send(text)
        except Exception:  # noqa: BLE001 - closed meanwhile: the handler cleans up
            pass

    async def _announce_roles(self):
        for i, ws in enumerate(list(self.clients)):
            await self._send(ws, {"bridge": "role", "role": "driver" if i == 0 else "watcher",
                                  "clients": len(self.clients)})

    async def _from_client(self, ws, message):
        import time

        if not isinstance(message, str) or "\n" in message or "\r" in message:
            await self._send(ws, {"ok": False, "error": "bridge: one text line per message"})
            return
        if ws is not self.clients[0]:
            try:
                cmd = json.loads(message).get("cmd")
            except (ValueError, AttributeError):
                cmd = None
            if cmd not in READ_ONLY:
                await self._send(ws, {"ok": False, "error": "bridge: watching, another client drives "
                                      "(read-only: %s)" % ", ".join(READ_ONLY)})
                return
        self.waiting.append([ws, time.monotonic() + ANSWER_S])
        self.link.send(message)

    # --- the device ----------------------------------------------------------------------------
    def from_device(self, line):
        """A line the device sent (in the event loop): an answer to the one who asked, anything
        else (telemetry) to everyone."""
        import asyncio

        doc = None
        try:
            doc = json.loads(line)
        except ValueError:
            pass
        if isinstance(doc, dict) and "ok" in doc and self.waiting:
            ws = self.waiting.pop(0)[0]
            targets = [ws] if ws is not None else []
        else:
            targets = list(self.clients)
        for ws in targets:
            asyncio.ensure_future(self._send(ws, line))

    async def expire(self):
        import asyncio
        import time

        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            while self.waiting and self.waiting[0][1] < now:
                ws = self.waiting.pop(0)[0]
                if ws is not None:
                    await self._send(ws, {"ok": False, "error": "bridge: no answer from the device"})

    def read_device(self, stop):
        """In a thread: lines from the port into the event loop."""
        buf = b""
        port = self.link.port
        try:
            while not stop:
                data = port.read(port.in_waiting or 1)
                if not data:
                    continue
                buf += data
                while b"\n" in buf:
                    raw, buf = buf.split(b"\n", 1)
                    line = raw.decode("utf-8", "replace").strip("\r")
                    if line:
                        self.loop.call_soon_threadsafe(self.from_device, line)
        except Exception as exc:  # noqa: BLE001 - unplugged: say so, and stop the server
            if not stop:
                self.loop.call_soon_threadsafe(self.device_lost, str(exc).splitlines()[0] if str(exc) else "")

    def device_lost(self, why):
        sys.stderr.write("web: the device went away (%s)\n" % why)
        self.lost.set_result(1)


def run(args):
    from host_tools.serial_link import AppStopped, Link, LinkError

    loopback = is_loopback(args.host)
    if not 0 <= args.http_port <= 65535:
        sys.stderr.write("web: --http-port must be 0..65535\n")
        return 2
    if not os.path.isfile(os.path.join(WEB_DIR, "index.html")):
        sys.stderr.write("web: %s/index.html is missing\n" % WEB_DIR)
        return 2
    try:
        link = Link(args.port)
    except (LinkError, OSError) as exc:
        sys.stderr.write("web: %s: %s\n" % (args.port, exc))
        return 2
    try:
        try:
            if not link.attach(3.0):
                sys.stderr.write("web: %s: no answer yet (still booting?); bridging anyway\n" % args.port)
        except AppStopped as exc:
            sys.stderr.write("web: %s: %s; monitor --restart starts it\n" % (args.port, exc))
            return 1
        return _serve(args, link, loopback)
    finally:
        link.close()


def _serve(args, link, loopback):
    import asyncio
    import secrets
    import signal
    import threading

    from websockets.asyncio.server import serve

    token = None if loopback else secrets.token_urlsafe(24)

    async def main():
        bridge = Bridge(link, token, loopback, 0)
        bridge.loop = asyncio.get_running_loop()
        bridge.lost = bridge.loop.create_future()
        try:
            server = await serve(bridge.handler, args.host, args.http_port,
                                 process_request=bridge.process_request, max_size=4096)
        except OSError as exc:
            sys.stderr.write("web: cannot listen on %s:%d: %s\n" % (args.host, args.http_port, exc.strerror))
            return 2
        bridge.port = server.sockets[0].getsockname()[1]
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            bridge.loop.add_signal_handler(sig, lambda: bridge.lost.done() or bridge.lost.set_result(0))
        stop = []
        reader = threading.Thread(target=bridge.read_device, args=(stop,), daemon=True)
        reader.start()
        expiry = asyncio.ensure_future(bridge.expire())
        host = "[%s]" % args.host if ":" in args.host else args.host
        url = "http://%s:%d/%s" % (host, bridge.port, "?token=" + token if token else "")
        print(url, flush=True)
        sys.stderr.write("web: the page for %s is at %s\nweb: %s; stop: Ctrl-C\n" % (
            link.name, url, "loopback only" if loopback else "reachable from the network: share the "
            "URL only with whom may drive the device"))
        sys.stderr.flush()
        try:
            return await bridge.lost
        finally:
            stop.append(1)
            expiry.cancel()
            server.close()
            await server.wait_closed()
            reader.join(1.0)

    return asyncio.run(main())
