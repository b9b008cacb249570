"""Runtime sources: what builds Runtime.Base, and the build output every later stage reads."""
