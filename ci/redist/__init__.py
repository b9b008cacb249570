"""The redistributable: deterministic archives, the package stage, unpacking, checksums, epoch.
Imports `ci.core`, `ci.platforms`, `ci.binaries`, `ci.runtime`."""
