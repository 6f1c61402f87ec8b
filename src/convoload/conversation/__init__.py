"""The conversation loop (`loop`), its records (`records`) and goal detectors (`goals`)."""
