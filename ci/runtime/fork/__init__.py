"""The split-runtime fork: its layout (facts read from the fork's files), the build driver and the
link plan that turns its build outputs into Runtime.Base and apps."""
