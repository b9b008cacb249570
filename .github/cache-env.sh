#!/usr/bin/env bash
# Every cache of a job under one directory, the same on every OS: pip's default differs per OS
# (~/.cache/pip, %LOCALAPPDATA%\pip\Cache) and ci/core/cache.py follows XDG_CACHE_HOME (the
# wheelhouse, the rootfs, toolchain support libraries). In RUNNER_TEMP, never in the checkout,
# which containers copy.
set -euo pipefail
cache="$RUNNER_TEMP/cache"
{
    echo "XDG_CACHE_HOME=$cache"
    echo "PIP_CACHE_DIR=$cache/pip"
} >> "$GITHUB_ENV"
