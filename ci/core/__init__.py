"""The bottom layer: errors, file safety, the subprocess runner, git, console, schemas and package data.
Nothing here imports any other part of `ci`."""
