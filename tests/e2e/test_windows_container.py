"""`images` and `container-run --platform win-x64` through the real docker SDK, against a stand-in
engine: an HTTP server on a unix socket that answers as a Windows engine does and records every
request. No Windows engine exists here, so nothing runs in a Windows container (not run here):
what is shown is what the SDK sends one (process isolation, windows/amd64, C:\\src), and that a
Linux engine is refused with one line."""

from __future__ import annotations

import io
import json
import re
import socketserver
import tarfile
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from ci.containers import engine
from ci.core.errors import CiError
from ci.platforms import get_platform
from tests.conftest import REPO

pytestmark = pytest.mark.e2e

WIN_X64 = get_platform("win-x64")
BOX = "c0ffee"


class StandInEngine(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: Path, os_type: str):
        self.os_type, self.requests = os_type, []
        super().__init__(str(path), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # unix sockets have no client address to log
        pass

    def _answer(self, code: int, body: bytes = b"", kind: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        url = urlsplit(self.path)
        path = re.sub(r"^/v[0-9.]+", "", url.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.headers.get("Transfer-Encoding") == "chunked":
            body = self._chunked()
        self.server.requests.append({"method": self.command, "path": path, "query": parse_qs(url.query), "body": body})
        as_json = lambda value, code=200: self._answer(code, json.dumps(value).encode())
        if path == "/_ping":
            self._answer(200, b"OK", "text/plain")
        elif path == "/version":
            as_json({"ApiVersion": "1.47", "Version": "29.1.5", "Os": self.server.os_type})
        elif path == "/info":
            as_json({"OSType": self.server.os_type})
        elif path.startswith("/images/") and path.endswith("/json"):
            as_json({"message": "No such image"}, 404)
        elif path == "/build":
            self._answer(200, b'{"stream":"Step 1/9 : FROM mcr.microsoft.com/windows/servercore:ltsc2025\\n"}\n')
        elif path == "/containers/create":
            as_json({"Id": BOX, "Warnings": []}, 201)
        elif path == f"/containers/{BOX}/json":
            as_json({"Id": BOX, "Config": {"Tty": False}, "State": {"Status": "created"}})
        elif path == f"/containers/{BOX}/archive" and self.command == "PUT":
            self._answer(200)
        elif path == f"/containers/{BOX}/archive":
            as_json({"message": "no dist"}, 404)
        elif path == f"/containers/{BOX}/start":
            self._answer(204)
        elif path == f"/containers/{BOX}/logs":
            line = b"nox > Running session package\n"
            self._answer(200, b"\x01\x00\x00\x00" + len(line).to_bytes(4, "big") + line,
                         "application/vnd.docker.raw-stream")
        elif path == f"/containers/{BOX}/wait":
            as_json({"StatusCode": 0})
        elif path == f"/containers/{BOX}" and self.command == "DELETE":
            self._answer(204)
        else:
            as_json({"message": f"stand-in engine: {self.command} {path} not modelled"}, 500)

    def _chunked(self) -> bytes:
        data = b""
        while (size := int(self.rfile.readline().strip(), 16)) > 0:
            data += self.rfile.read(size)
            self.rfile.readline()
        self.rfile.readline()
        return data

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    def start(os_type: str) -> StandInEngine:
        server = StandInEngine(tmp_path / "docker.sock", os_type)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'docker.sock'}")
        monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
        engine.engine.cache_clear()
        return server

    started: list[StandInEngine] = []
    yield start
    for server in started:
        server.shutdown()
        server.server_close()
    engine.engine.cache_clear()


def requests_to(server: StandInEngine, path: str) -> list[dict]:
    return [r for r in server.requests if r["path"] == path]


def test_container_run_win_x64_asks_for_a_process_isolated_windows_container(stand_in, tmp_path):
    server = stand_in("windows")
    code = engine.run_session(WIN_X64, "package", ["--platform", "win-x64"], repo=REPO, dist=tmp_path / "dist")
    assert code == 0
    (build,) = requests_to(server, "/build")
    assert build["method"] == "POST" and build["query"]["isolation"] == ["process"]
    assert build["query"]["platform"] == ["windows/amd64"] and build["query"]["t"][0].startswith("runtime-base-ci/windows:x64-")
    with tarfile.open(fileobj=io.BytesIO(build["body"])) as context:  # the build context: the Windows Dockerfile alone
        assert context.getnames() == ["Dockerfile"]
        sent = context.extractfile("Dockerfile").read()
    assert sent == (REPO / "containers" / "windows" / "Dockerfile").read_bytes()
    (create,) = requests_to(server, "/containers/create")
    config = json.loads(create["body"])
    assert create["query"]["platform"] == ["windows/amd64"]
    assert config["HostConfig"]["Isolation"] == "process" and config["WorkingDir"] == "C:\\src"
    assert config["Cmd"] == ["nox", "-s", "package", "--", "--platform", "win-x64"]
    (put,) = [r for r in requests_to(server, f"/containers/{BOX}/archive") if r["method"] == "PUT"]
    assert put["query"]["path"] == ["C:\\src"]
    with tarfile.open(fileobj=io.BytesIO(put["body"])) as snapshot:  # the checkout goes in as a tar stream
        assert "noxfile.py" in snapshot.getnames() and "containers/windows/Dockerfile" in snapshot.getnames()
    gets = [r["query"]["path"] for r in requests_to(server, f"/containers/{BOX}/archive") if r["method"] == "GET"]
    assert gets == [["C:\\src\\dist"]]
    assert [r["method"] for r in requests_to(server, f"/containers/{BOX}")] == ["DELETE"]  # removed after the run


def test_a_linux_engine_is_refused_for_win_x64_before_any_build(stand_in):
    server = stand_in("linux")
    with pytest.raises(CiError) as refused:
        engine.ensure_image(WIN_X64)
    assert str(refused.value) == (
        "win-x64: its container needs a windows engine, this one runs linux containers; win-x64 packages are "
        "built in the linux-x64 container (--platform linux-x64 --target windows-cross)")
    assert requests_to(server, "/build") == []
