"""Push dist/'s .nupkg files to a NuGet feed with the real client: `dotnet nuget push --skip-duplicate`.

Only packages SHA256SUMS lists, each checked first (the ones CI built and tested). The client does
the HTTP: its retry handler retries a failed request (a 5xx, a dropped connection), and with
--skip-duplicate a package the feed already has (409 Conflict) is a success, so a rerun after any
interruption pushes each package exactly once. The API key goes only to the client, for the feed
it names, and never into output (ci.core.secrets).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ci.core.errors import CiError, InputError
from ci.core.proc import require
from ci.core.secrets import hide, redact
from ci.redist.dist import NUPKG_SUFFIX
from ci.release.provenance import verified_sums

API_KEY_VAR = "NUGET_API_KEY"
#: The client's own lines for the two successes (NuGet.Commands PushRunner, en-US strings).
_PUSHED = "Your package was pushed."
_ALREADY_THERE = "already exists at feed"
TIMEOUT_SECONDS = 600  # per package, the client's --timeout: a large SDK package on a slow feed


@dataclass(frozen=True)
class Pushed:
    name: str
    sha256: str
    action: str  # "pushed" or "already there"


def packages(dist: Path) -> dict[str, str]:
    """name -> sha256 of every .nupkg SHA256SUMS lists, each file checked against it."""
    found = {name: digest for name, digest in verified_sums(dist).items() if name.endswith(NUPKG_SUFFIX)}
    if not found:
        raise InputError(dist, f"SHA256SUMS lists no {NUPKG_SUFFIX} package")
    return found


def _env() -> dict[str, str]:
    return {**os.environ, "DOTNET_CLI_TELEMETRY_OPTOUT": "1", "DOTNET_NOLOGO": "1", "DOTNET_CLI_UI_LANGUAGE": "en"}


def push(dist: Path, source: str, api_key: str | None = None, *, log=lambda message: None) -> list[Pushed]:
    """Push every package of `dist` to `source` (a feed URL, a folder, or a source named in NuGet.Config)."""
    listed = packages(dist)
    dotnet = require("dotnet")
    key = api_key if api_key is not None else os.environ.get(API_KEY_VAR, "")
    hide(key)
    done = []
    for name, digest in sorted(listed.items()):
        argv = [dotnet, "nuget", "push", str(dist / name), "--source", source, "--skip-duplicate",
                "--timeout", str(TIMEOUT_SECONDS)]
        if key:
            argv += ["--api-key", key]
        log(f"pushing {name}")
        ran = subprocess.run(argv, capture_output=True, text=True, env=_env(), timeout=TIMEOUT_SECONDS + 60)
        output = redact(ran.stdout + ran.stderr)
        if ran.returncode != 0:
            last = next((line.strip() for line in reversed(output.splitlines()) if line.strip()), "no output")
            raise CiError(f"push-nuget: {name} to {redact(source)}: dotnet nuget push exited {ran.returncode}: {last}")
        action = "already there" if _ALREADY_THERE in output else "pushed" if _PUSHED in output else None
        if action is None:
            raise CiError(f"push-nuget: {name}: dotnet nuget push said neither pushed nor already there")
        done.append(Pushed(name, digest, action))
        log(f"{name}: {action}")
    return done
