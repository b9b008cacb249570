"""Platforms: every per-platform fact (records), the toolchains found on the host, how binaries run
here (runners) and the GitHub Actions matrix. Imports only `ci.core`."""

from ci.platforms.records import PLATFORMS, Platform, RunMode, for_binary, get_platform, host_rid, select

__all__ = ["PLATFORMS", "Platform", "RunMode", "for_binary", "get_platform", "host_rid", "select"]
