"""The build output contract: a directory with build.json naming the runtime's files by role.

The reference runtime and the fork both produce this shape, so package onwards never knows which
one it is handling.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ci.core import schemas
from ci.core.errors import InputError
from ci.core.git import tree_state

BUILD_INFO = "build.json"

#: The fork's build configurations (-rc, -lc), and the one default every entry point uses: the
#: configuration is part of the fork build's cache key, so two defaults would mean two hour-long builds.
RUNTIME_CONFIGURATIONS = ("Debug", "Release", "Checked")
LIBRARIES_CONFIGURATIONS = ("Debug", "Release")
DEFAULT_CONFIGURATION = "Release"
DEFAULT_LIBRARIES_CONFIGURATION = "Release"


@dataclass(frozen=True)
class Source:
    kind: str  # "reference" or "fork"
    commit: str | None  # git commit of the runtime source, None outside git
    dirty: bool  # uncommitted changes in the runtime source
    date_epoch: int | None  # last commit time of the runtime source

    @classmethod
    def of(cls, kind: str, path: Path) -> Source:
        """The source in `path`, as git describes it."""
        return cls(kind, **asdict(tree_state(path)))


def static_input(path: Path, kind: str, name: str | None = None) -> dict:
    """A `static_inputs` record: what went into the library ("source", "library" or "object") and its sha256."""
    with path.open("rb") as f:
        return {"name": name or path.name, "kind": kind, "sha256": hashlib.file_digest(f, "sha256").hexdigest()}


@dataclass(frozen=True)
class BuildOutput:
    root: Path
    name: str
    version: str
    rid: str
    configuration: str
    source: Source
    library: str  # the shared library, relative to root
    link: tuple[str, ...] = ()  # what an app links against (import library; the .so itself on ELF)
    include: tuple[str, ...] = ()
    debug: tuple[str, ...] = ()  # split debug symbols
    extra: tuple[str, ...] = field(default=())  # other redistributable files
    toolchain: tuple[str, ...] = ()  # the compiler and tools that made it, one version line each (for the SBOM)
    static_inputs: tuple[dict, ...] = ()  # what was linked in statically: {"name", "kind", "sha256"} (for the SBOM)

    def files(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.library, *self.link, *self.include, *self.extra)))

    def write(self) -> None:
        data = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items() if k != "root"}
        schemas.dump("build", data, self.root / BUILD_INFO)

    @classmethod
    def read(cls, root: Path) -> BuildOutput:
        info = root / BUILD_INFO
        if not info.exists():
            raise InputError(info, "missing: not a build output directory (run the build stage first)")
        data = schemas.load("build", info)
        source = Source(**data.pop("source"))
        out = cls(root=root, source=source, **{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
        missing = [f for f in (*out.files(), *out.debug) if not (root / f).is_file()]
        if missing:
            raise InputError(root / missing[0], "listed in build.json but missing")
        return out
