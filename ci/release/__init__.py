"""Releases: the GitHub client, publish, fetch and provenance. Imports the layers below `checks`."""
