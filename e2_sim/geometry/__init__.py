"""Geometry of the radio world: orbits, frames and positions."""
