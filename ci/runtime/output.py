"""The build output contract: a directory with build.json naming the runtime's files by role.

The reference runtime and the fork both produce this shape, so package onwards never knows which
one it is handling.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import InputError

BUILD_INFO = "build.json"


@dataclass(frozen=True)
class Source:
    kind: str  # "reference" or "fork"
    commit: str | None  # git commit of the runtime source, None outside git
    dirty: bool  # uncommitted changes in the runtime source
    date_epoch: int | None  # last commit time of the runtime source


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

    def files(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.library, *self.link, *self.include, *self.extra)))

    def write(self) -> None:
        data = asdict(self)
        data.pop("root")
        tmp = self.root / (BUILD_INFO + ".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        tmp.replace(self.root / BUILD_INFO)

    @classmethod
    def read(cls, root: Path) -> BuildOutput:
        info = root / BUILD_INFO
        try:
            data = json.loads(info.read_text())
            source = Source(**data.pop("source"))
            out = cls(root=root, source=source, **{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
        except FileNotFoundError:
            raise InputError(info, "missing: not a build output directory (run the build stage first)") from None
        except (ValueError, TypeError, KeyError) as exc:
            raise InputError(info, f"malformed build info ({exc})") from None
        missing = [f for f in (*out.files(), *out.debug) if not (root / f).is_file()]
        if missing:
            raise InputError(root / missing[0], "listed in build.json but missing")
        return out
