"""Runtime sources: what builds Runtime.Base (the reference runtime or the fork), its export list,
and the build output every later stage reads. Imports `core`, `platforms`, `binaries`."""
