"""A small GitHub REST client: token auth, Link pagination, and retries that never repeat a write blindly.

Every attempt goes through `_retrying`. Rate limits (429, secondary-rate-limit 403s) are retried after
the wait GitHub asks for; 5xx and dropped connections only when the caller says the request is safe
to repeat. For a write that is not, they raise `Uncertain` and the caller reconciles (re-lists) first.

What a hostile or broken server cannot do, each rule kept in one place:
- get the token: checked as given (`ci.release.inputs`), it goes only to the API's origin and GitHub's upload host for it (`_target` refuses a
  next-page, asset or upload URL anywhere else), and redirects are followed by hand, the token dropped
  for good at the first hop to another origin (`_exchange`). No message, log or report contains it:
  every GitHubError and every string GitHub sends passes through `ci.core.secrets.redact`.
- hold us: every operation, retries and waits included, ends within its deadline (`Limits`), and an
  answer is read as it arrives, never past its size cap (the listed size for a download).
- crash us: every JSON answer is checked against the shape we use, and only those fields are kept
  (`ci.release.answers`).
"""

from __future__ import annotations

import email.utils
import os
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import IO, NamedTuple, TypeVar
from urllib.parse import quote, urljoin, urlsplit

import requests
import urllib3

from ci.core.errors import CiError, InputError
from ci.core.secrets import redact
from ci.release.answers import ASSET, RELEASE, error_body, page_of, parse
from ci.release.inputs import check_api_url, check_token, origin, shown

DEFAULT_API_URL = "https://api.github.com"
# A release's upload_url names uploads.github.com for api.github.com
# (https://docs.github.com/en/rest/releases/assets#upload-a-release-asset); GitHub Enterprise Server
# uploads to its own host (https://HOST/api/uploads), the API's origin.
UPLOAD_HOSTS = {"api.github.com": "https://uploads.github.com"}
API_VERSION = "2022-11-28"
PER_PAGE = 100
MAX_PAGES = 100  # 10,000 releases or assets: a Link chain longer than this is refused, not followed forever
MAX_REDIRECTS = 5
USER_AGENT = "runtime-base-ci"
SECONDARY_WAIT = 60.0  # GitHub: without retry-after, wait at least a minute after a secondary rate limit
_CHUNK = 1 << 20
_ERROR_BODY_LIMIT = 64 << 10  # an error answer is read this far for its message, no further
_TIMEOUTS = (10.0, 300.0)  # connect, silence: GitHub may take minutes to answer a large upload
_REDIRECT_CODES = (301, 302, 303, 307, 308)
_TEMPLATE = re.compile(r"\{\?([\w,]+)\}")
# The connection dropped: the request may or may not have reached GitHub.
_CONNECTION_ERRORS = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, requests.ReadTimeout)
T = TypeVar("T")
Progress = Callable[[int], None]  # called with the bytes sent so far
_SECONDS = re.compile(r"[0-9]{1,12}")  # ASCII digits only ("²".isdigit() is true), of a sane length


class GitHubError(CiError):
    """GitHub refused a request (or never answered); `codes` are the error codes of a 422. The message
    is redacted here, so no error can carry the token."""

    def __init__(self, message: str, status: int | None = None, codes: tuple[str, ...] = ()):
        super().__init__(redact(message))
        self.status = status
        self.codes = codes


class Uncertain(GitHubError):
    """A write that may or may not have taken effect (lost connection, 5xx): re-list before resending."""


class _Transient(Exception):
    """One attempt failed in a way worth retrying; `delay` is the wait the server asked for, if any."""

    def __init__(self, reason: str, delay: float | None, applied: bool):
        super().__init__(reason)
        self.reason, self.delay, self.applied = reason, delay, applied


@dataclass(frozen=True)
class Retry:
    """Bounded attempts; the clock, sleep and randomness are injectable so tests never really wait."""

    attempts: int = 6
    base: float = 1.0  # the first backoff ceiling, doubled each attempt
    cap: float = 60.0  # the longest wait; a server asking for more fails at once
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    rand: Callable[[], float] = random.random

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^(attempt-1))]."""
        return self.rand() * min(self.cap, self.base * 2 ** (attempt - 1))


@dataclass(frozen=True)
class Limits:
    """Every network operation ends within `deadline` seconds, its retries and waits included; a transfer
    gets `deadline` plus its size at `min_rate` bytes/s. A JSON answer is read up to `max_json` bytes."""

    deadline: float = 120.0
    min_rate: float = 256 << 10
    max_json: int = 32 << 20  # a page of 100 releases, each with its notes and asset list, fits

    def for_size(self, size: int) -> float:
        return self.deadline + size / self.min_rate


DEFAULT_RETRY = Retry()
DEFAULT_LIMITS = Limits()


class _Deadline:
    """The end of one operation on the monotonic clock (real time, whatever clock `Retry` fakes)."""

    def __init__(self, seconds: float, what: str):
        self.seconds, self.what = seconds, what
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds left; past the end the operation fails."""
        left = self.end - time.monotonic()
        if left <= 0:
            raise GitHubError(f"GitHub: {self.what}: no complete answer within the {self.seconds:g}s deadline")
        return left

    def timeouts(self) -> tuple[float, float]:
        """requests' (connect, read) timeouts: never past the deadline, so a silent server cannot hold us."""
        left = self.left()
        return min(_TIMEOUTS[0], left), min(_TIMEOUTS[1], left)


class _Bearer(requests.auth.AuthBase):
    """Adds the token to a request; given only for the API's own origins (see `_exchange`)."""

    def __init__(self, token: str):
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "_Bearer(***)"


class _Body:
    """A file streamed as a request body: requests takes Content-Length from len(), reads report progress
    and stop at the deadline."""

    def __init__(self, file: IO[bytes], size: int, progress: Progress | None, deadline: _Deadline):
        self._file, self._size, self._progress, self._deadline, self._sent = file, size, progress, deadline, 0

    def __len__(self) -> int:
        return self._size

    def read(self, n: int = -1) -> bytes:
        self._deadline.left()
        chunk = self._file.read(n)
        self._sent += len(chunk)
        if chunk and self._progress:
            self._progress(self._sent)
        return chunk


class _Reply(NamedTuple):
    body: bytes
    links: dict


def expand_upload_url(template: str, **values: str) -> str:
    """RFC 6570 form-style query expansion (`{?name,label}`); variables without a value are left out."""
    def expand(match: re.Match) -> str:
        pairs = [f"{key}={quote(values[key], safe='')}" for key in match[1].split(",") if key in values]
        return "?" + "&".join(pairs) if pairs else ""
    return _TEMPLATE.sub(expand, template)


def _describe(method: str, url: str) -> str:
    return f"{method} {urlsplit(url).path}"


def _parse(body: bytes, shape: dict, what: str) -> object:
    try:
        return parse(body, shape)
    except ValueError as exc:
        raise GitHubError(f"GitHub: {what}: {exc}") from None


def _server_wait(headers: Mapping[str, str], clock: Callable[[], float]) -> float | None:
    """Seconds the server asked us to wait: retry-after, or until x-ratelimit-reset when none remain."""
    after = headers.get("retry-after", "").strip()
    if _SECONDS.fullmatch(after):
        return float(after)
    if after:  # RFC 9110 section 10.2.3: Retry-After = HTTP-date / delay-seconds
        try:
            when = email.utils.parsedate_to_datetime(after)
        except (TypeError, ValueError, OverflowError):
            when = None
        if when is not None:
            if when.tzinfo is None:  # "-0000": UTC with no further information (RFC 5322)
                when = when.replace(tzinfo=UTC)
            return max(0.0, when.timestamp() - clock())
    reset = headers.get("x-ratelimit-reset", "").strip()
    if headers.get("x-ratelimit-remaining") == "0" and _SECONDS.fullmatch(reset):
        return max(0.0, int(reset) - clock())
    return None


def _rate_limited(response: requests.Response, message: str) -> bool:
    headers = response.headers
    return response.status_code == 429 or (response.status_code == 403 and (
        "secondary rate limit" in message.lower() or "retry-after" in headers
        or headers.get("x-ratelimit-remaining") == "0"))


class GitHub:
    def __init__(self, api_url: str, token: str | None, retry: Retry | None = None,
                 log: Callable[[str], None] = lambda message: None, limits: Limits | None = None):
        self.api_url = check_api_url(api_url)
        token = check_token(token)
        self.retry = retry or DEFAULT_RETRY
        self.limits = limits or DEFAULT_LIMITS
        self._log = lambda message: log(redact(message))
        self.counts: Counter[str] = Counter()  # requests sent, by method, retries included
        self.has_token = token is not None
        # An auth object given per request, not a session header: never overridden by ~/.netrc, and
        # never sent where `_exchange` does not give it.
        self._auth = _Bearer(token) if token else None
        upload = UPLOAD_HOSTS.get(urlsplit(self.api_url).hostname or "")
        self._origins = {origin(self.api_url), *([origin(upload)] if upload else [])}
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/vnd.github+json", "User-Agent": USER_AGENT,
                                     "X-GitHub-Api-Version": API_VERSION})

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ, retry: Retry | None = None,
                 log: Callable[[str], None] = lambda message: None) -> GitHub:
        return cls(env.get("GITHUB_API_URL") or DEFAULT_API_URL, env.get("GITHUB_TOKEN"), retry, log)

    def __repr__(self) -> str:
        return f"GitHub(api_url={self.api_url!r}, token={'***' if self.has_token else None})"

    # --- requests ------------------------------------------------------------------------

    def request(self, method: str, path: str, *, expect: tuple[int, ...] = (200,), safe: bool = True,
                shape: dict | None = None, **kwargs) -> object:
        """One API call (a path under the API URL, or a URL GitHub gave us), retried as allowed; its
        answer checked against `shape` (None: the answer is not read)."""
        url = self._url(path, method)
        return self._call(method, url, expect, safe, shape, **kwargs)[0]

    def paginate(self, path: str, shape: dict) -> Iterator[dict]:
        """Every item of a list endpoint, following `Link: rel="next"` as GitHub wrote it."""
        url, params = self.api_url + path, {"per_page": PER_PAGE}
        for _ in range(MAX_PAGES):
            items, links = self._call("GET", url, (200,), True, page_of(shape), params=params)
            yield from items
            if "url" not in links.get("next", {}):
                return
            url, params = self._target(links["next"]["url"], f"GET {path} (next page)"), None
        raise GitHubError(f"GitHub: GET {path}: more than {MAX_PAGES} pages; not following further")

    def upload(self, upload_url: str, name: str, path: Path, size: int, progress: Progress | None = None) -> dict:
        """POST a file to a release's upload_url, streamed from disk; never resent once it may have landed."""
        url = self._target(expand_upload_url(upload_url, name=name), f"upload of {name}")
        what = _describe("POST", url)

        def attempt(deadline: _Deadline) -> _Reply:
            with open(path, "rb") as file:  # a fresh stream for each attempt
                return self._send("POST", url, (201,), deadline, self.limits.max_json,
                                  data=_Body(file, size, progress, deadline),
                                  headers={"Content-Type": "application/octet-stream"})
        reply = self._retrying(what, attempt, safe=False, seconds=self.limits.for_size(size))
        return _parse(reply.body, ASSET, what)

    def download(self, url: str, dest: Path, size: int) -> None:
        """Stream an asset of `size` bytes into `dest` (GitHub redirects to storage); a broken stream
        starts over, a longer one is refused."""
        url = self._target(url, f"download to {dest.name}")
        what = _describe("GET", url)

        def write(out: IO[bytes], chunk: bytes) -> None:
            """Unbuffered, so a full disk shows here: a bad destination, not a lost connection."""
            view = memoryview(chunk)
            try:
                while view:
                    view = view[out.write(view):]  # a raw write may take only part
            except OSError as exc:
                raise InputError(dest, f"cannot write: {exc.strerror}") from None

        def attempt(deadline: _Deadline) -> None:
            try:
                out = open(dest, "wb", buffering=0)  # noqa: SIM115  (the `with` below: open's error is told apart)
            except OSError as exc:
                raise InputError(dest, f"cannot write: {exc.strerror}") from None
            with out:
                self._send("GET", url, (200,), deadline, size, lambda chunk: write(out, chunk),
                           headers={"Accept": "application/octet-stream"})
            if (got := dest.stat().st_size) != size:
                raise _Transient(f"the download ended after {got} of {size} bytes", None, applied=True)
        self._retrying(what, attempt, safe=True, seconds=self.limits.for_size(size))

    # --- releases ------------------------------------------------------------------------

    def find_release(self, repo: str, tag: str) -> dict | None:
        """The release for `tag`, drafts included (GET .../releases/tags/{tag} never returns a draft)."""
        return next((r for r in self.paginate(f"/repos/{repo}/releases", RELEASE) if r["tag_name"] == tag), None)

    def list_assets(self, repo: str, release_id: int) -> list[dict]:
        return list(self.paginate(f"/repos/{repo}/releases/{release_id}/assets", ASSET))

    # --- where requests may go -----------------------------------------------------------------

    def _url(self, path: str, method: str) -> str:
        return self.api_url + path if path.startswith("/") else self._target(path, f"{method} {path}")

    def _target(self, url: str, what: str) -> str:
        """A URL GitHub named (next page, asset, upload): only on the API's own origins, where the token goes."""
        try:
            allowed = origin(url) in self._origins
        except ValueError:
            allowed = False
        if not allowed:
            raise GitHubError(f"GitHub: {what}: the server named {shown(url)}, not on {self.api_url}'s hosts; "
                              f"refusing to send the token there")
        return url

    def _exchange(self, method: str, url: str, deadline: _Deadline, **kwargs) -> requests.Response:
        """Send, following redirects by hand (GET only: GitHub redirects downloads to storage). The token
        goes with the first request and never past a hop to another origin: storage URLs are pre-signed
        and refuse a second credential ("Only one auth mechanism allowed", octokit/core.js#415)."""
        auth = self._auth
        for _ in range(MAX_REDIRECTS + 1):
            response = self.session.request(method, url, auth=auth, timeout=deadline.timeouts(), stream=True,
                                            allow_redirects=False, **kwargs)
            location = response.headers.get("Location")
            if method != "GET" or response.status_code not in _REDIRECT_CODES or location is None:
                return response
            response.close()
            target = urljoin(url, location)
            try:
                same, scheme = origin(target) == origin(url), urlsplit(target).scheme
            except ValueError:
                same, scheme = False, ""
            if scheme != "https" and not (scheme == "http" == urlsplit(url).scheme):
                raise GitHubError(f"GitHub: {_describe(method, url)}: redirected to {shown(target)}, "
                                  "not an https URL")
            auth = auth if same else None
            url = target
        raise GitHubError(f"GitHub: {_describe(method, url)}: more than {MAX_REDIRECTS} redirects")

    # --- one attempt, and the loop around it -------------------------------------------------

    def _call(self, method: str, url: str, expect: tuple[int, ...], safe: bool, shape: dict | None,
              **kwargs) -> tuple[object, dict]:
        what = _describe(method, url)
        limit = self.limits.max_json if shape else _ERROR_BODY_LIMIT
        reply = self._retrying(what, lambda deadline: self._send(method, url, expect, deadline, limit, **kwargs),
                               safe, self.limits.deadline)
        return (_parse(reply.body, shape, what) if shape else None), reply.links

    def _send(self, method: str, url: str, expect: tuple[int, ...], deadline: _Deadline, limit: int,
              sink: Callable[[bytes], object] | None = None, **kwargs) -> _Reply:
        """One attempt: the answer, or a GitHubError / _Transient. The body goes to `sink` if given."""
        self.counts[method] += 1
        what = _describe(method, url)
        with self._exchange(method, url, deadline, **kwargs) as response:
            if response.status_code not in expect:
                self._refuse(response, what, deadline)
            chunks: list[bytes] = []
            self._read(response, limit, deadline, what, sink or chunks.append)
            return _Reply(b"".join(chunks), response.links)

    def _read(self, response: requests.Response, limit: int, deadline: _Deadline, what: str,
              sink: Callable[[bytes], object]) -> None:
        """The answer's body into `sink` as it arrives (read1: whatever came, not a full buffer, so a
        trickle cannot outlast the deadline), never past `limit` bytes."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise GitHubError(f"GitHub: {what}: the answer is {declared} bytes, more than the {limit} expected")
        got = 0
        while True:
            deadline.left()
            try:
                chunk = response.raw.read1(_CHUNK, decode_content=True)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise _Transient(f"connection lost ({type(exc).__name__})", None, applied=True) from None
            if not chunk:
                return
            got += len(chunk)
            if got > limit:
                raise GitHubError(f"GitHub: {what}: the answer is larger than the {limit} bytes expected")
            sink(chunk)

    def _refuse(self, response: requests.Response, what: str, deadline: _Deadline) -> None:
        """Raise for an answer of an unexpected status: GitHubError, or _Transient when worth retrying."""
        status = response.status_code
        chunks: list[bytes] = []
        try:
            self._read(response, _ERROR_BODY_LIMIT, deadline, what, chunks.append)
        except (GitHubError, _Transient):
            chunks = []  # the status says enough
        message, codes = error_body(b"".join(chunks))
        if status == 401 or (status == 403 and message.lower() == "bad credentials"):
            raise GitHubError(f"GitHub rejected the token ({status} {message or 'Bad credentials'}) for {what}", status)
        if _rate_limited(response, message):
            wait = _server_wait(response.headers, self.retry.clock)
            if wait is None and status == 403:
                wait = SECONDARY_WAIT
            if wait is not None and wait > self.retry.cap:
                raise GitHubError(f"GitHub rate limit for {what}: asked to wait {wait:.0f}s, "
                                  f"longer than the {self.retry.cap:.0f}s this client waits", status)
            raise _Transient(f"{status} rate limited", wait, applied=False)
        if status >= 500:
            raise _Transient(f"{status} {response.reason}", None, applied=True)
        raise GitHubError(f"GitHub: {what}: {status} {message or response.reason}", status, codes)

    def _retrying(self, what: str, attempt: Callable[[_Deadline], T], safe: bool, seconds: float) -> T:
        deadline = _Deadline(seconds, what)
        for n in range(1, self.retry.attempts + 1):
            deadline.left()
            try:
                return attempt(deadline)
            except _CONNECTION_ERRORS as exc:
                failure = _Transient(f"connection lost ({type(exc).__name__})", None, applied=True)
            except _Transient as exc:
                failure = exc
            except requests.RequestException as exc:  # a URL or header requests cannot send
                raise GitHubError(f"GitHub: {what}: {type(exc).__name__}") from None
            if failure.applied and not safe:
                raise Uncertain(f"GitHub: {what}: {failure.reason}; it may or may not have taken effect")
            if n == self.retry.attempts:
                break
            delay = failure.delay if failure.delay is not None else self.retry.backoff(n)
            if delay >= deadline.end - time.monotonic():
                raise GitHubError(f"GitHub: {what}: {failure.reason}; a {delay:.1f}s wait would pass "
                                  f"the {seconds:g}s deadline")
            self._log(f"{what}: {failure.reason}; retrying in {delay:.1f}s ({n}/{self.retry.attempts - 1})")
            self.retry.sleep(delay)
        raise GitHubError(f"GitHub: {what}: {failure.reason}, {self.retry.attempts} attempts")
