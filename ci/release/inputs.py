"""What the user gives the GitHub commands, checked before any request: the repository and tag, the API
URL and the token. Each problem is one line (exit 2) that never shows the token."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from ci.core.errors import InputError
from ci.core.secrets import hide

_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
# What `git check-ref-format` refuses in a ref name (https://git-scm.com/docs/git-check-ref-format).
_BAD_TAG = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|^[-/.]|[/.]$|\.lock$|/\.|\.lock/")
# A Bearer token is an RFC 6750 (section 2.1) b64token; GitHub's tokens (ghp_..., github_pat_...) are.
_TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+=*")


def shown(text: str) -> str:
    """`text` quoted for a one-line message: escapes visible, length bounded."""
    return repr(text if len(text) <= 120 else text[:120] + "...")


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port), the default port filled in: where a URL's requests go. ValueError if unparsable."""
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port or {"http": 80, "https": 443}.get(parts.scheme)


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_release(repo: str, tag: str) -> None:
    """--repo and --tag: OWNER/NAME, and a tag name git accepts."""
    if not _REPO.fullmatch(repo) or {".", ".."} & set(repo.split("/")):
        raise InputError("--repo", f"{shown(repo)}: expected OWNER/NAME")
    if not tag or tag == "@" or len(tag) > 255 or _BAD_TAG.search(tag):
        raise InputError("--tag", f"{shown(tag)}: not a tag name git accepts (git check-ref-format)")


def check_api_url(url: str) -> str:
    """GITHUB_API_URL: https (plain http only to this machine: the token would travel in clear), a host, no more."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is what raises on a bad one
    except ValueError as exc:
        raise InputError("GITHUB_API_URL", f"{shown(url)} is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError("GITHUB_API_URL", f"{shown(url)} is not an http(s) URL")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise InputError("GITHUB_API_URL", f"{shown(url)} holds spaces or control characters")
    if parts.username is not None or parts.password is not None:
        raise InputError("GITHUB_API_URL", "holds credentials: give the token in GITHUB_TOKEN instead")
    if parts.query or parts.fragment:
        raise InputError("GITHUB_API_URL", f"{shown(url)} has a query or fragment")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise InputError("GITHUB_API_URL", f"{shown(url)}: plain http is allowed only to this machine "
                                           "(the token would travel in clear); use https")
    return url.rstrip("/")


def check_token(token: str | None) -> str | None:
    """Surrounding whitespace (a token file with CRLF line ends) stripped; anything else a token never
    holds is refused in one line that never shows it. From here on the token is redacted everywhere."""
    token = (token or "").strip()
    if not token:
        return None
    hide(token)
    if not _TOKEN.fullmatch(token):
        raise InputError("GITHUB_TOKEN", "not a valid token: it holds a character a token never has "
                                         "(space, control character or non-ASCII)")
    return token
