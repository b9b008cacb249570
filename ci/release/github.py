"""A small GitHub REST client: token auth, Link pagination, and retries that never repeat a write blindly.

Every attempt goes through `_retrying`. Rate limits (429, secondary-rate-limit 403s) are retried after
the wait GitHub asks for; 5xx and dropped connections only when the caller says the request is safe
to repeat. For a write that is not, they raise `Uncertain` and the caller reconciles (re-lists) first.
The token lives only in the session's auth object, whose repr hides it; no message ever contains it.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar
from urllib.parse import quote, urlsplit

import requests

from ci.core.errors import CiError

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
PER_PAGE = 100
USER_AGENT = "runtime-base-ci"
SECONDARY_WAIT = 60.0  # GitHub: without retry-after, wait at least a minute after a secondary rate limit
_CHUNK = 1 << 20
_TIMEOUT = (10, 300)  # connect, read: GitHub may take minutes to answer a large upload
_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_TEMPLATE = re.compile(r"\{\?([\w,]+)\}")
# The connection dropped: the request may or may not have reached GitHub.
_CONNECTION_ERRORS = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, requests.ReadTimeout)
T = TypeVar("T")
Progress = Callable[[int], None]  # called with the bytes sent so far


class GitHubError(CiError):
    """GitHub refused a request (or never answered); `codes` are the error codes of a 422."""

    def __init__(self, message: str, status: int | None = None, codes: tuple[str, ...] = ()):
        super().__init__(message)
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


DEFAULT_RETRY = Retry()


class _Bearer(requests.auth.AuthBase):
    """Adds the token to each request; on a redirect to another host requests drops it again."""

    def __init__(self, token: str):
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "_Bearer(***)"


class _Body:
    """A file streamed as a request body: requests takes Content-Length from len(), reads report progress."""

    def __init__(self, file: IO[bytes], size: int, progress: Progress | None):
        self._file, self._size, self._progress, self._sent = file, size, progress, 0

    def __len__(self) -> int:
        return self._size

    def read(self, n: int = -1) -> bytes:
        chunk = self._file.read(n)
        self._sent += len(chunk)
        if chunk and self._progress:
            self._progress(self._sent)
        return chunk


def check_repo(repo: str) -> str:
    if not _REPO.fullmatch(repo):
        raise CiError(f"repository {repo!r}: expected OWNER/NAME")
    return repo


def expand_upload_url(template: str, **values: str) -> str:
    """RFC 6570 form-style query expansion (`{?name,label}`); variables without a value are left out."""
    def expand(match: re.Match) -> str:
        pairs = [f"{key}={quote(values[key], safe='')}" for key in match[1].split(",") if key in values]
        return "?" + "&".join(pairs) if pairs else ""
    return _TEMPLATE.sub(expand, template)


def _describe(method: str, url: str) -> str:
    return f"{method} {urlsplit(url).path}"


def _error_body(response: requests.Response) -> tuple[str, tuple[str, ...]]:
    """GitHub's error message and the `code` of each entry in `errors`, if the body is JSON."""
    try:
        body = response.json()
    except ValueError:
        return "", ()
    if not isinstance(body, dict):
        return "", ()
    errors = body.get("errors") if isinstance(body.get("errors"), list) else []
    codes = tuple(str(e.get("code")) for e in errors if isinstance(e, dict))
    return " ".join(str(body.get("message", "")).split()), codes


def _server_wait(headers: Mapping[str, str], clock: Callable[[], float]) -> float | None:
    """Seconds the server asked us to wait: retry-after, or until x-ratelimit-reset when none remain."""
    after = headers.get("retry-after", "").strip()
    if after.isdigit():
        return float(after)
    reset = headers.get("x-ratelimit-reset", "").strip()
    if headers.get("x-ratelimit-remaining") == "0" and reset.isdigit():
        return max(0.0, int(reset) - clock())
    return None


def _rate_limited(response: requests.Response, message: str) -> bool:
    headers = response.headers
    return response.status_code == 429 or (response.status_code == 403 and (
        "secondary rate limit" in message.lower() or "retry-after" in headers
        or headers.get("x-ratelimit-remaining") == "0"))


class GitHub:
    def __init__(self, api_url: str, token: str | None, retry: Retry = DEFAULT_RETRY,
                 log: Callable[[str], None] = lambda message: None):
        self.api_url = api_url.rstrip("/")
        self.retry = retry
        self.log = log
        self.counts: Counter[str] = Counter()  # requests sent, by method, retries included
        self.has_token = bool(token)
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/vnd.github+json", "User-Agent": USER_AGENT,
                                     "X-GitHub-Api-Version": API_VERSION})
        if token:
            self.session.auth = _Bearer(token)  # an auth object, not a header: never overridden by ~/.netrc

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ, retry: Retry | None = None,
                 log: Callable[[str], None] = lambda message: None) -> GitHub:
        return cls(env.get("GITHUB_API_URL") or DEFAULT_API_URL, env.get("GITHUB_TOKEN") or None,
                   retry or DEFAULT_RETRY, log)

    def __repr__(self) -> str:
        return f"GitHub(api_url={self.api_url!r}, token={'***' if self.has_token else None})"

    # --- requests ------------------------------------------------------------------------

    def request(self, method: str, path: str, *, expect: tuple[int, ...] = (200,), safe: bool = True,
                **kwargs) -> requests.Response:
        """One API call (a path under the API URL, or a full URL GitHub gave us), retried as allowed."""
        url = path if path.startswith(("http://", "https://")) else self.api_url + path
        return self._retrying(_describe(method, url), lambda: self._send(method, url, expect, **kwargs), safe)

    def paginate(self, path: str) -> Iterator[dict]:
        """Every item of a list endpoint, following `Link: rel="next"` as GitHub wrote it."""
        url: str | None = self.api_url + path
        params: dict | None = {"per_page": PER_PAGE}
        while url:
            response = self.request("GET", url, params=params)
            yield from response.json()
            url, params = response.links.get("next", {}).get("url"), None

    def upload(self, upload_url: str, name: str, path: Path, size: int, progress: Progress | None = None) -> dict:
        """POST a file to a release's upload_url, streamed from disk; never resent once it may have landed."""
        url = expand_upload_url(upload_url, name=name)

        def attempt() -> requests.Response:
            with open(path, "rb") as file:  # a fresh stream for each attempt
                return self._send("POST", url, (201,), data=_Body(file, size, progress),
                                  headers={"Content-Type": "application/octet-stream"})
        return self._retrying(_describe("POST", url), attempt, safe=False).json()

    def download(self, url: str, dest: Path) -> None:
        """Stream an asset into `dest` (GitHub redirects to storage); a broken stream starts over."""
        def attempt() -> None:
            with self._send("GET", url, (200,), headers={"Accept": "application/octet-stream"},
                            stream=True) as response, open(dest, "wb") as out:
                for chunk in response.iter_content(_CHUNK):
                    out.write(chunk)
        self._retrying(_describe("GET", url), attempt, safe=True)

    # --- releases ------------------------------------------------------------------------

    def find_release(self, repo: str, tag: str) -> dict | None:
        """The release for `tag`, drafts included (GET .../releases/tags/{tag} never returns a draft)."""
        return next((r for r in self.paginate(f"/repos/{repo}/releases") if r["tag_name"] == tag), None)

    def list_assets(self, repo: str, release_id: int) -> list[dict]:
        return list(self.paginate(f"/repos/{repo}/releases/{release_id}/assets"))

    # --- one attempt, and the loop around it -------------------------------------------------

    def _send(self, method: str, url: str, expect: tuple[int, ...], **kwargs) -> requests.Response:
        self.counts[method] += 1
        response = self.session.request(method, url, timeout=_TIMEOUT, **kwargs)
        try:
            return self._check(response, _describe(method, url), expect)
        except BaseException:
            response.close()
            raise

    def _check(self, response: requests.Response, what: str, expect: tuple[int, ...]) -> requests.Response:
        status = response.status_code
        if status in expect:
            return response
        message, codes = _error_body(response)
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

    def _retrying(self, what: str, attempt: Callable[[], T], safe: bool) -> T:
        for n in range(1, self.retry.attempts + 1):
            try:
                return attempt()
            except _CONNECTION_ERRORS as exc:
                failure = _Transient(f"connection lost ({type(exc).__name__})", None, applied=True)
            except _Transient as exc:
                failure = exc
            if failure.applied and not safe:
                raise Uncertain(f"GitHub: {what}: {failure.reason}; it may or may not have taken effect")
            if n == self.retry.attempts:
                break
            delay = failure.delay if failure.delay is not None else self.retry.backoff(n)
            self.log(f"{what}: {failure.reason}; retrying in {delay:.1f}s ({n}/{self.retry.attempts - 1})")
            self.retry.sleep(delay)
        raise GitHubError(f"GitHub: {what}: {failure.reason}, {self.retry.attempts} attempts")
