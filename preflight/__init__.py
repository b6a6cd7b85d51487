"""preflight: find what will make a cloud launch fail, before it fails."""

__version__ = "0.1.0"
