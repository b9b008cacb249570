"""Which runtime source a run uses: the reference runtime, or the split-runtime fork when a
checkout is given (--runtime-repo, else $RUNTIME_REPO)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ci.platforms import Platform
from ci.runtime import reference
from ci.runtime.fork.checkout import check_checkout
from ci.runtime.fork.layout import ForkLayout
from ci.runtime.fork.link import ForkOptions, build_runtime_base
from ci.runtime.output import DEFAULT_CONFIGURATION, BuildOutput, Source

ENV_VAR = "RUNTIME_REPO"


@dataclass(frozen=True)
class ReferenceSource:
    kind = "reference"

    def describe(self) -> str:
        return reference.describe()

    def build(self, platform: Platform, out: Path, configuration: str) -> tuple[BuildOutput, bool]:
        return reference.build_reference_runtime(platform, out, configuration)

    def dotnet(self, platform: Platform) -> Path | None:
        """The reference runtime has no SDK package, so no C# apps: no `dotnet` needed."""
        return None


@dataclass(frozen=True)
class ForkSource:
    checkout: Path
    options: ForkOptions = ForkOptions()
    kind = "fork"

    def describe(self) -> str:
        source = Source.of("fork", self.checkout)
        commit = source.commit[:12] if source.commit else "no commit"
        return f"fork checkout {self.checkout} at {commit}{' (dirty)' if source.dirty else ''}"

    def build(self, platform: Platform, out: Path, configuration: str) -> tuple[BuildOutput, bool]:
        return build_runtime_base(self.checkout, platform, out, configuration, self.options)

    def dotnet(self, platform: Platform) -> Path | None:
        """The .NET SDK the fork's build downloaded: it compiles the C# samples' IL."""
        return ForkLayout(self.checkout, platform, DEFAULT_CONFIGURATION).dotnet


def fork_checkout(repo: str | Path | None, env: Mapping[str, str] = os.environ) -> str | Path | None:
    """The fork checkout asked for: --runtime-repo, else $RUNTIME_REPO (the one place that reads it)."""
    return repo or env.get(ENV_VAR) or None


def runtime_source(repo: str | Path | None = None, env: Mapping[str, str] = os.environ,
                   options: ForkOptions = ForkOptions()) -> ReferenceSource | ForkSource:
    """--runtime-repo, else $RUNTIME_REPO, else the reference runtime."""
    chosen = fork_checkout(repo, env)
    return ForkSource(check_checkout(chosen), options) if chosen else ReferenceSource()


