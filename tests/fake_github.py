"""A local stand-in for the part of the GitHub REST API that ci.publish and ci.fetch use.

Releases (list with Link pagination, by tag with 404 for drafts, create, update), assets (list with
Link pagination, delete, download by a 302 to a blob path as GitHub does) and uploads at a separate
path named by each release's `upload_url` template. Every request is recorded: method, path, headers
without Authorization, body size and the status sent (None when the connection was dropped).

Faults are scripted per request with `fail(kind, method, regex, ...)`, each used by the next `times`
requests whose method matches and whose path and query the regex finds:
  status         answer `status` (with `reason`) with `headers` and `body` instead (rate limits, 5xx,
                 malformed JSON, redirects and Link headers naming other hosts)
  drop           read the request, close the connection without answering
  stall          read the request's headers only, answer nothing until the server stops (at most STALL_BOUND s)
  trickle        answer 200 with a `size`-byte Content-Length, then one byte every `interval` s
  endless        answer 200 without a Content-Length and send bytes until the client goes away
  502_after_body (upload) read the whole body, leave a `starter` asset, answer 502
  reset          (upload) read half the body, leave a `starter` asset (or none), drop the connection
  drop_response  (upload) store the asset completely, then close the connection without answering
  hide           (asset list) leave asset `name` out of the listing, as a lagging replica would
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import shutil
import socket
import struct
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

TOKEN = "ghp_TESTtoken0123456789SECRETabcdefXYZ"  # shaped like a real one, so a leak is recognisable
STALL_BOUND = 30.0  # a stalled request ends by itself at the latest after this long
DEFAULT_PER_PAGE = 30  # GitHub's default: a client that forgets per_page pays more requests
MAX_PER_PAGE = 100
_CHUNK = 1 << 20
_REPO = r"/repos/(?P<repo>[^/]+/[^/]+)"
_ALREADY_EXISTS = {"message": "Validation Failed", "errors": [
    {"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}]}


@dataclass
class Release:
    id: int
    repo: str
    tag_name: str
    draft: bool


@dataclass
class Asset:
    id: int
    release_id: int
    name: str
    state: str = "starter"
    size: int = 0
    sha256: str | None = None  # what the server computed from the bytes it stored


@dataclass
class Fault:
    kind: str
    method: str
    path: re.Pattern
    times: int = 1
    status: int = 0
    reason: str | None = None
    headers: dict = field(default_factory=dict)
    body: object = field(default_factory=dict)  # JSON, or bytes sent as they are
    interval: float = 0.05
    size: int = 1000
    keep_starter: bool = True
    name: str = ""


@dataclass
class Recorded:
    method: str
    path: str  # with the query string
    headers: dict  # everything but Authorization
    auth: str  # "ok", "bad" or "none"
    body_size: int
    body: bytes = b""  # JSON bodies; uploads are recorded by size only
    status: int | None = None


class _Drop(Exception):
    """Close the connection without answering."""


class FakeGitHub:
    """`host` is the loopback address to listen on; `storage` the base URL asset downloads redirect to
    (another FakeGitHub sharing `root` stands in for GitHub's storage host)."""

    def __init__(self, root: Path, token: str, digests: bool = True, host: str = "127.0.0.1",
                 storage: str | None = None):
        self.root, self.token, self.digests = root, token, digests
        (root / "blobs").mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.releases: dict[int, Release] = {}
        self.assets: dict[int, Asset] = {}
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self._ids = itertools.count(1)
        self.stopping = threading.Event()
        self.httpd = ThreadingHTTPServer((host, 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.app = self
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        self.storage = storage or self.url
        self._routes = [(method, re.compile(pattern), getattr(self, name)) for method, pattern, name in (
            ("GET", rf"{_REPO}/releases", "_list_releases"),
            ("POST", rf"{_REPO}/releases", "_create_release"),
            ("GET", rf"{_REPO}/releases/tags/(?P<tag>.+)", "_release_by_tag"),
            ("PATCH", rf"{_REPO}/releases/(?P<id>\d+)", "_update_release"),
            ("GET", rf"{_REPO}/releases/(?P<id>\d+)/assets", "_list_assets"),
            ("GET", rf"{_REPO}/releases/assets/(?P<id>\d+)", "_get_asset"),
            ("DELETE", rf"{_REPO}/releases/assets/(?P<id>\d+)", "_delete_asset"),
            ("POST", rf"/uploads{_REPO}/releases/(?P<id>\d+)/assets", "_upload"),
            ("GET", r"/blobs/(?P<id>\d+)", "_blob"),
        )]

    def __enter__(self) -> FakeGitHub:
        # A short poll interval: shutdown() waits for the loop to notice.
        threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()  # stalled and trickling answers end now
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- for tests ---------------------------------------------------------------------------

    def fail(self, kind: str, method: str, path: str, **options) -> None:
        self.faults.append(Fault(kind, method, re.compile(path), **options))

    def seed(self, repo: str, tag: str, files: dict[str, bytes], draft: bool = True) -> Release:
        """A release made earlier (e.g. by an interrupted run), holding `files`."""
        release = Release(next(self._ids), repo, tag, draft)
        self.releases[release.id] = release
        for name, data in files.items():
            asset = Asset(next(self._ids), release.id, name)
            (self.root / "blobs" / str(asset.id)).write_bytes(data)
            asset.state, asset.size, asset.sha256 = "uploaded", len(data), hashlib.sha256(data).hexdigest()
            self.assets[asset.id] = asset
        return release

    def release(self, tag: str) -> Release:
        (release,) = [r for r in self.releases.values() if r.tag_name == tag]
        return release

    def assets_of(self, tag: str) -> list[Asset]:
        return [a for a in self.assets.values() if a.release_id == self.release(tag).id]

    def tamper(self, tag: str, name: str) -> None:
        """Flip a byte of a stored asset behind the API's back (its digest stays as it was)."""
        (asset,) = [a for a in self.assets_of(tag) if a.name == name]
        blob = self.root / "blobs" / str(asset.id)
        data = bytearray(blob.read_bytes())
        data[len(data) // 2] ^= 0xFF
        blob.write_bytes(bytes(data))

    def counts(self) -> dict[str, int]:
        """API requests by method (blob downloads are storage, not API)."""
        return dict(Counter(r.method for r in self.requests if not r.path.startswith("/blobs/")))

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != "GET"]

    # --- dispatch ----------------------------------------------------------------------------

    def handle(self, h: _Handler) -> None:
        url = urlsplit(h.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        given = h.headers.get("Authorization")
        auth = "none" if given is None else "ok" if given == f"Bearer {self.token}" else "bad"
        headers = {k: v for k, v in h.headers.items() if k.lower() != "authorization"}
        record = Recorded(h.command, h.path, headers, auth, int(h.headers.get("Content-Length") or 0))
        with self.lock:
            self.requests.append(record)
        try:
            status, body, extra = self._dispatch(h, record, url.path, query)
        except _Drop:
            h.close_connection = True
            return
        _reply(h, record, status, body, extra)

    def _dispatch(self, h: _Handler, record: Recorded, path: str, query: dict) -> tuple[int, object, dict]:
        found = [(route, match) for method, pattern, route in self._routes
                 if method == h.command and (match := pattern.fullmatch(path))]
        if not found:
            _drain(h)
            return 404, {"message": "Not Found"}, {}
        ((route, match),) = found
        if record.auth != "ok" and route != self._blob:  # storage URLs carry no token, as on GitHub
            _drain(h)
            return 401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}, {}
        if fault := self._take(h.command, h.path, ("status", "drop", "stall", "trickle", "endless")):
            if fault.kind != "stall":  # a stalled server does not even read the request body
                _drain(h)
            if fault.kind == "stall":
                self.stopping.wait(STALL_BOUND)
            elif fault.kind in ("trickle", "endless"):
                record.status = 200
                self._flood(h, fault)
            if fault.kind != "status":
                raise _Drop
            h.reason = fault.reason
            return fault.status, fault.body, fault.headers
        if route != self._upload:
            record.body = _drain(h)
        return route(h, query, path, **match.groupdict())

    def _flood(self, h: _Handler, fault: Fault) -> None:
        """trickle: `size` declared bytes, one per `interval`; endless: undeclared 64 KiB blocks. Both end
        when the client goes away or the server stops."""
        h.send_response(200)
        if fault.kind == "trickle":
            h.send_header("Content-Length", str(fault.size))
        h.send_header("Connection", "close")
        h.end_headers()
        block, count, pause = (b"x", fault.size, fault.interval) if fault.kind == "trickle" else (b"x" * 65536, 1 << 14, 0)
        try:
            for _ in range(count):
                h.wfile.write(block)
                h.wfile.flush()
                if self.stopping.wait(pause):
                    return
        except OSError:
            return

    def _take(self, method: str, target: str, kinds: tuple[str, ...]) -> Fault | None:
        """The first fault of `kinds` for this request, used once."""
        return next(iter(self._take_all(method, target, kinds, first=True)), None)

    def _take_all(self, method: str, target: str, kinds: tuple[str, ...], first: bool = False) -> list[Fault]:
        """The faults of `kinds` for this request (all, or the first), each used once."""
        with self.lock:
            hits = [f for f in self.faults if f.kind in kinds and f.method == method and f.path.search(target)]
            for fault in hits[:1] if first else hits:
                fault.times -= 1
                if fault.times == 0:
                    self.faults.remove(fault)
        return hits[:1] if first else hits

    # --- JSON views ----------------------------------------------------------------------------

    def _release_json(self, r: Release) -> dict:
        api = f"{self.url}/repos/{r.repo}/releases/{r.id}"
        return {"id": r.id, "tag_name": r.tag_name, "name": r.tag_name, "draft": r.draft, "prerelease": False,
                "url": api, "assets_url": f"{api}/assets", "html_url": f"{self.url}/{r.repo}/releases/tag/{r.tag_name}",
                "upload_url": f"{self.url}/uploads/repos/{r.repo}/releases/{r.id}/assets{{?name,label}}"}

    def _asset_json(self, a: Asset) -> dict:
        release = self.releases[a.release_id]
        digest = f"sha256:{a.sha256}" if self.digests and a.state == "uploaded" else None
        return {"id": a.id, "name": a.name, "label": "", "state": a.state, "size": a.size, "digest": digest,
                "content_type": "application/octet-stream",
                "url": f"{self.url}/repos/{release.repo}/releases/assets/{a.id}",
                "browser_download_url": f"{self.url}/{release.repo}/releases/download/{release.tag_name}/{a.name}"}

    def _page(self, items: list[dict], query: dict, path: str) -> tuple[int, object, dict]:
        per_page = min(int(query.get("per_page", DEFAULT_PER_PAGE)), MAX_PER_PAGE)
        page, last = int(query.get("page", 1)), max(1, math.ceil(len(items) / per_page))
        links = [f'<{self.url}{path}?per_page={per_page}&page={n}>; rel="{rel}"'
                 for n, rel in ((page + 1, "next"), (last, "last")) if page < last]
        return 200, items[(page - 1) * per_page:page * per_page], {"Link": ", ".join(links)} if links else {}

    # --- routes ----------------------------------------------------------------------------------

    def _list_releases(self, h, query, path, repo):
        newest_first = sorted((r for r in self.releases.values() if r.repo == repo), key=lambda r: -r.id)
        return self._page([self._release_json(r) for r in newest_first], query, path)

    def _release_by_tag(self, h, query, path, repo, tag):
        found = [r for r in self.releases.values() if r.repo == repo and r.tag_name == tag and not r.draft]
        return (200, self._release_json(found[0]), {}) if found else (404, {"message": "Not Found"}, {})

    def _create_release(self, h, query, path, repo):
        body = json.loads(h.body)
        if any(r.repo == repo and r.tag_name == body["tag_name"] and not r.draft for r in self.releases.values()):
            return 422, {"message": "Validation Failed", "errors": [{"resource": "Release", "code": "already_exists",
                                                                     "field": "tag_name"}]}, {}
        with self.lock:
            release = Release(next(self._ids), repo, body["tag_name"], bool(body.get("draft")))
            self.releases[release.id] = release
        return 201, self._release_json(release), {}

    def _update_release(self, h, query, path, repo, id):
        release = self.releases[int(id)]
        release.draft = bool(json.loads(h.body).get("draft", release.draft))
        return 200, self._release_json(release), {}

    def _list_assets(self, h, query, path, repo, id):
        hidden = {f.name for f in self._take_all("GET", h.path, ("hide",))}
        listed = [self._asset_json(a) for a in sorted(self.assets.values(), key=lambda a: a.id)
                  if a.release_id == int(id) and a.name not in hidden]
        return self._page(listed, query, path)

    def _get_asset(self, h, query, path, repo, id):
        asset = self.assets.get(int(id))
        if asset is None:
            return 404, {"message": "Not Found"}, {}
        if h.headers.get("Accept") == "application/octet-stream":
            return 302, b"", {"Location": f"{self.storage}/blobs/{asset.id}"}
        return 200, self._asset_json(asset), {}

    def _delete_asset(self, h, query, path, repo, id):
        with self.lock:
            found = self.assets.pop(int(id), None)
        return (204, b"", {}) if found else (404, {"message": "Not Found"}, {})

    def _blob(self, h, query, path, id):
        blob = self.root / "blobs" / id
        return (200, blob, {}) if blob.is_file() else (404, {"message": "Not Found"}, {})

    def _upload(self, h, query, path, repo, id):
        length = int(h.headers.get("Content-Length", -1))
        if length < 0:
            return 411, {"message": "Length Required"}, {}
        with self.lock:
            if any(a.release_id == int(id) and a.name == query["name"] for a in self.assets.values()):
                asset = None
            else:
                asset = Asset(next(self._ids), int(id), query["name"])
                self.assets[asset.id] = asset
        if asset is None:
            _drain(h)
            return 422, _ALREADY_EXISTS, {}
        fault = self._take("POST", h.path, ("502_after_body", "reset", "drop_response"))
        if fault and fault.kind == "reset":
            self._receive(h, asset, length // 2)
            if not fault.keep_starter:
                self.assets.pop(asset.id)
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raise _Drop
        received, digest = self._receive(h, asset, length)
        if received < length:  # the client went away: the asset stays a starter, as on GitHub
            raise _Drop
        if fault and fault.kind == "502_after_body":
            return 502, {"message": "Server Error"}, {}
        asset.state, asset.size, asset.sha256 = "uploaded", received, digest
        if fault and fault.kind == "drop_response":
            raise _Drop
        return 201, self._asset_json(asset), {}

    def _receive(self, h: _Handler, asset: Asset, length: int) -> tuple[int, str]:
        """Stream up to `length` body bytes into the asset's blob; (bytes received, their sha256)."""
        digest, received = hashlib.sha256(), 0
        with open(self.root / "blobs" / str(asset.id), "wb") as out:
            while received < length:
                chunk = h.rfile.read(min(_CHUNK, length - received))
                if not chunk:
                    break
                digest.update(chunk)
                out.write(chunk)
                received += len(chunk)
        return received, digest.hexdigest()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as requests expects
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stalls

    def do_GET(self) -> None:
        self.server.app.handle(self)

    do_POST = do_PATCH = do_DELETE = do_GET

    body = b""  # the JSON request body, once read
    reason: str | None = None  # the reason phrase a fault sends

    def log_message(self, format: str, *args: object) -> None:
        pass


def _drain(h: _Handler) -> bytes:
    """Read the request body (so the connection can carry the next request); kept for JSON bodies."""
    h.body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
    return h.body


def _reply(h: _Handler, record: Recorded, status: int, body: object, headers: dict) -> None:
    record.status = status
    h.send_response(status, h.reason)
    for key, value in headers.items():
        h.send_header(key, value)
    if isinstance(body, Path):
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Content-Length", str(body.stat().st_size))
        h.end_headers()
        with open(body, "rb") as f:
            shutil.copyfileobj(f, h.wfile, _CHUNK)
        return
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    if not isinstance(body, bytes):
        h.send_header("Content-Type", "application/json; charset=utf-8")
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)


@dataclass
class FakeClock:
    now: float = 1_700_000_000.0
    slept: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def time(self) -> float:
        return self.now
