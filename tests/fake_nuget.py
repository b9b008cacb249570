"""A local NuGet v3 push feed for `dotnet nuget push`: the service index (one PackagePublish/2.0.0
resource, as nuget.org's index.json lists it) and PUT of a package as multipart/form-data, checked
against the X-NuGet-ApiKey header (403 without the key, 409 Conflict for an id+version it has,
201 Created otherwise), as the NuGet server API documents ("Push and delete", learn.microsoft.com).

Faults are scripted for the next `times` pushes: `status` (answer it instead, e.g. 503), `drop`
(read the request, close the connection unanswered), `drop_after_store` (store the package, then
close unanswered: the client cannot know it landed). Every push is recorded with the status sent.
"""

from __future__ import annotations

import io
import json
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.etree import ElementTree

API_KEY = "oy2TESTnugetKEY0123456789abcdefSECRET"  # shaped like a nuget.org key, so a leak is recognisable
_NS = "{http://schemas.microsoft.com/packaging/2013/01/nuspec.xsd}"


@dataclass
class Push:
    key: str | None
    package: tuple[str, str] | None  # (id, version) read from the nuspec
    status: int | None  # None: the connection was dropped


@dataclass
class FakeNuGet:
    faults: list[tuple[str, int]] = field(default_factory=list)  # (kind or "status:<n>", times)
    stored: dict[tuple[str, str], bytes] = field(default_factory=dict)
    pushes: list[Push] = field(default_factory=list)

    def __enter__(self) -> FakeNuGet:
        feed = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != "/v3/index.json":
                    return self._answer(404)
                publish = f"http://127.0.0.1:{feed.port}/api/v2/package"
                self._answer(200, json.dumps({"version": "3.0.0", "resources": [
                    {"@id": publish, "@type": "PackagePublish/2.0.0"}]}).encode())

            def do_PUT(self) -> None:
                body = self._body()
                push = Push(self.headers.get("X-NuGet-ApiKey"), _package_of(body), None)
                feed.pushes.append(push)
                fault = feed._take()
                if fault == "drop":
                    return self._drop()
                if fault and fault.startswith("status:"):
                    push.status = int(fault.split(":")[1])
                    return self._answer(push.status)
                if push.key != API_KEY:
                    push.status = 403
                elif push.package is None:
                    push.status = 400
                elif push.package in feed.stored:
                    push.status = 409
                else:
                    feed.stored[push.package] = body
                    push.status = 201
                if fault == "drop_after_store":
                    push.status = None
                    return self._drop()
                self._answer(push.status)

            def _body(self) -> bytes:
                """The request body, sized or chunked (the NuGet client streams the package chunked)."""
                if "chunked" not in self.headers.get("Transfer-Encoding", ""):
                    return self.rfile.read(int(self.headers.get("Content-Length", 0)))
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline().strip():  # trailers, up to the blank line
                    pass
                return b"".join(chunks)

            def _answer(self, status: int, body: bytes = b"") -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _drop(self) -> None:
                self.close_connection = True
                self.connection.close()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def index(self) -> str:
        return f"http://127.0.0.1:{self.port}/v3/index.json"

    def fail(self, kind: str, times: int = 1) -> None:
        self.faults.append((kind, times))

    def _take(self) -> str | None:
        if not self.faults:
            return None
        kind, times = self.faults[0]
        self.faults[0] = (kind, times - 1)
        if times - 1 <= 0:
            self.faults.pop(0)
        return kind


def _package_of(body: bytes) -> tuple[str, str] | None:
    """(id, version) of the .nupkg inside a multipart body: the zip starts at its local header."""
    start = body.find(b"PK\x03\x04")
    if start < 0:
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(body[start:])) as package:
            spec = next(n for n in package.namelist() if n.endswith(".nuspec") and "/" not in n)
            metadata = ElementTree.fromstring(package.read(spec)).find(f"{_NS}metadata")
    except (zipfile.BadZipFile, StopIteration, ElementTree.ParseError, KeyError):
        return None
    if metadata is None:
        return None
    return metadata.findtext(f"{_NS}id") or "", (metadata.findtext(f"{_NS}version") or "").lower()
