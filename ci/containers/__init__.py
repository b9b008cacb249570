"""Containers: the one door to the engine, the images, and the host-versus-container crosscheck."""
