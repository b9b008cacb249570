"""dist/ -> a GitHub release: idempotent, resumable, and public only once every asset is verified.

The release is created as a draft, each asset uploaded at most once per run (one write at a time),
then every asset re-listed and checked (state, size, sha256 digest) before the draft is published.
A rerun skips what is already there. An upload whose answer was lost is never resent blindly: the
assets are listed first, and only a missing or broken (`starter`) asset is sent again.

When GitHub gives no digest for an asset of the right size, its content is unknown: it is kept and
reported as unverified, and replaced only with `replace=True` (downloading it to hash it would
double the traffic of every rerun).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ci.core.errors import CiError
from ci.core.fs import sha256_file
from ci.redist.checksums import SUMS
from ci.release import abi
from ci.release.answers import RELEASE
from ci.release.github import GitHub, GitHubError, Progress, Uncertain
from ci.release.inputs import check_release
from ci.release.provenance import FILENAME as PROVENANCE
from ci.release.provenance import regular_file, verified_sums

ProgressFactory = Callable[[str, int], Progress]  # (asset name, size) -> called with bytes sent
# What happens to each local asset; "conflict" stops the run before any write.
DESCRIPTIONS = {
    "upload": "not on the release yet",
    "skip": "already there, same sha256",
    "unverified": "already there, same size, no digest from GitHub (--replace to resend)",
    "replace": "different content: delete, then upload",
    "reupload": "left by an interrupted upload: delete, then upload",
    "conflict": "different content (--replace to overwrite)",
}
CHANGES = ("upload", "replace", "reupload", "conflict")  # the actions that write (or would)


@dataclass(frozen=True)
class LocalAsset:
    name: str
    path: Path
    size: int
    sha256: str

    @property
    def digest(self) -> str:
        return f"sha256:{self.sha256}"


def collect(dist: Path) -> list[LocalAsset]:
    """Every file SHA256SUMS names (each checked), SHA256SUMS, manifests, reports and the provenance."""
    sums = verified_sums(dist)
    regular_file(dist / PROVENANCE, "missing: run `python -m ci provenance` first")
    extras = [regular_file(p) for p in (dist / SUMS, dist / PROVENANCE, *dist.glob("*.manifest.json"),
                                        *dist.glob("report*.json"))]
    assets = {p.name: LocalAsset(p.name, p, p.stat().st_size, sha256_file(p)) for p in extras}
    assets |= {name: LocalAsset(name, dist / name, (dist / name).stat().st_size, sums[name]) for name in sums}
    return [assets[name] for name in sorted(assets)]


def _same(asset: LocalAsset, remote: dict) -> bool | None:
    """Whether the release's copy has our bytes; None (unknown) if GitHub gives no digest and the size agrees."""
    if remote.get("digest"):
        return remote["digest"] == asset.digest and remote["size"] == asset.size
    return None if remote["size"] == asset.size else False


def _action(asset: LocalAsset, remote: dict | None, replace: bool) -> str:
    if remote is None:
        return "upload"
    if remote["state"] != "uploaded":
        return "reupload"
    same = _same(asset, remote)
    if same:
        return "skip"
    if replace:
        return "replace"
    return "unverified" if same is None else "conflict"


def _landed(asset: LocalAsset, remote: dict | None) -> bool:
    """Our (possibly interrupted) upload is complete on the release."""
    return remote is not None and remote["state"] == "uploaded" and _same(asset, remote) is not False


class _Publisher:
    def __init__(self, gh: GitHub, repo: str, tag: str, progress: ProgressFactory | None,
                 log: Callable[[str], None], notes: str = ""):
        self.gh, self.repo, self.tag, self.progress, self.log = gh, repo, tag, progress, log
        self.notes = notes

    def assets(self, release: dict) -> dict[str, dict]:
        return {a["name"]: a for a in self.gh.list_assets(self.repo, release["id"])}

    def create_draft(self) -> dict:
        body = {"tag_name": self.tag, "name": self.tag, "draft": True, **({"body": self.notes} if self.notes else {})}
        for attempt in range(1, self.gh.retry.attempts + 1):
            try:
                return self.gh.request("POST", f"/repos/{self.repo}/releases", json=body, expect=(201,),
                                       safe=False, shape=RELEASE)
            except Uncertain as exc:
                self.log(f"{exc.message}; looking for the draft before creating it again")
            # A second POST after a lost answer would make a second draft: look first.
            if found := self.gh.find_release(self.repo, self.tag):
                return found
            self._pause(attempt)
        raise CiError(f"release {self.tag}: could not create the draft after {self.gh.retry.attempts} attempts")

    def put(self, release: dict, asset: LocalAsset, remote: dict | None) -> None:
        """Upload `asset` (deleting `remote` first) until the release holds it; never resend blindly."""
        for attempt in range(1, self.gh.retry.attempts + 1):
            if remote is not None:
                self.log(f"deleting {asset.name} (asset {remote['id']}, {remote['state']})")
                self.gh.request("DELETE", remote["url"], expect=(204, 404))
            track = self.progress(asset.name, asset.size) if self.progress else None
            try:
                self.gh.upload(release["upload_url"], asset.name, asset.path, asset.size, track)
                return
            except Uncertain as exc:
                reason = exc.message
            except GitHubError as exc:
                if "already_exists" not in exc.codes:
                    raise
                reason = f"{asset.name} already exists"
            remote = self.assets(release).get(asset.name)
            if _landed(asset, remote):
                self.log(f"{asset.name}: the upload landed; only its answer was lost")
                return
            self.log(f"{reason}; {asset.name} is {remote['state'] if remote else 'not on the release'}")
            self._pause(attempt)
        raise CiError(f"release {self.tag}: {asset.name} did not upload after {self.gh.retry.attempts} attempts")

    def _pause(self, attempt: int) -> None:
        """Back off before the next attempt; not after the last one."""
        if attempt < self.gh.retry.attempts:
            delay = self.gh.retry.backoff(attempt)
            self.log(f"trying again in {delay:.1f}s")
            self.gh.retry.sleep(delay)

    def verify(self, local: list[LocalAsset], remote: dict[str, dict]) -> None:
        for asset in local:
            got = remote.get(asset.name)
            if not _landed(asset, got):
                state = "missing" if got is None else f"{got['state']}, {got['size']} bytes, {got.get('digest')}"
                raise CiError(f"release {self.tag}: {asset.name} does not verify ({state}); the release stays a draft")


def _names(local: list[LocalAsset], plan: dict[str, str], *actions: str) -> list[str]:
    return [a.name for a in local if plan[a.name] in actions]


def _some(names: list[str]) -> str:
    return names[0] + (f" (and {len(names) - 1} more)" if len(names) > 1 else "")


def _refuse(local: list[LocalAsset], plan: dict[str, str], tag: str, published: bool) -> None:
    """Conflicts stop the run before any write; so does any change to a published release."""
    if published and (changes := _names(local, plan, *CHANGES)):
        raise CiError(f"release {tag} is already published and is not changed (published releases may be "
                      f"immutable), but it lacks or differs in {_some(changes)}")
    if conflicts := _names(local, plan, "conflict"):
        raise CiError(f"release {tag} already has {_some(conflicts)} with different content; "
                      f"rerun with --replace to overwrite")


def _result(repo: str, tag: str, release: dict | None, local: list[LocalAsset], plan: dict[str, str],
            steps: list[str], dry_run: bool, gh: GitHub) -> dict:
    return {
        "repo": repo, "tag": tag, "dry_run": dry_run,
        "release_id": release and release["id"], "release_url": release and release.get("html_url"),
        "draft": True if release is None else release["draft"], "release_steps": steps,
        "assets": [{"name": a.name, "size": a.size, "sha256": a.sha256, "action": plan[a.name]} for a in local],
        "uploaded": _names(local, plan, "upload", "reupload"), "replaced": _names(local, plan, "replace"),
        "skipped": _names(local, plan, "skip", "unverified"), "unverified": _names(local, plan, "unverified"),
        "requests": dict(sorted(gh.counts.items())),
    }


def publish(dist: Path, repo: str, tag: str, *, dry_run: bool = False, replace: bool = False,
            gh: GitHub | None = None, progress: ProgressFactory | None = None,
            log: Callable[[str], None] = lambda message: None, previous: str | None = None) -> dict:
    """Publish dist/ as release `tag` of `repo`; returns what was (or, dry run, would be) done.
    With `previous` (see `abi --old`), a breaking ABI change without a major bump stops it before
    any write, and the release notes list the ABI changes."""
    check_release(repo, tag)
    gh = gh or GitHub.from_env(log=log)
    if not gh.has_token:
        raise CiError("GITHUB_TOKEN is not set: publishing needs a token that may write contents")
    local = collect(dist)
    notes = abi.notes(abi.require_compatible(previous, str(dist))) if previous else ""
    run = _Publisher(gh, repo, tag, progress, log, notes)
    release = gh.find_release(repo, tag)
    remote = run.assets(release) if release else {}
    plan = {a.name: _action(a, remote.get(a.name), replace) for a in local}
    published = release is not None and not release["draft"]
    _refuse(local, plan, tag, published)
    steps = [] if published else ["publish"] if release else ["create draft", "publish"]
    if dry_run or published:  # a published release is only verified (the plan is all skips)
        return _result(repo, tag, release, local, plan, steps, dry_run, gh)

    if release is None:
        release = run.create_draft()
        log(f"created draft release {tag} ({release.get('html_url')})")
    changes = _names(local, plan, *CHANGES)
    for asset in local:
        if asset.name in changes:
            run.put(release, asset, remote.get(asset.name))
    if changes:
        remote = run.assets(release)
    run.verify(local, remote)
    release = gh.request("PATCH", f"/repos/{repo}/releases/{release['id']}", json={"draft": False}, shape=RELEASE)
    log(f"published release {tag}")
    return _result(repo, tag, release, local, plan, steps, dry_run, gh)
