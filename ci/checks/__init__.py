"""Checks on a package: link the apps against it, verify statically, share and smoke at run time.
Imports the layers below (`core`, `platforms`, `binaries`, `runtime`, `redist`)."""
