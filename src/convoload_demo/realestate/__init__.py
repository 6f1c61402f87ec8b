"""Bundled real-estate demo: a realistic property catalog API that a real-estate assistant can call."""
