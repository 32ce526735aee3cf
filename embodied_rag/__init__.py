"""Embodied memory with retrieval-augmented generation for ROS 2."""

__version__ = "0.1.0"
