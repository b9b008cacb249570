"""runtime-base-ci: build, package, link against, verify and share the Runtime.Base shared runtime."""
