"""Demo property catalog API for a real-estate assistant (FastAPI + SQLAlchemy, seeded Brazilian data).

``python -m convoload_demo.realestate.catalog [--host H] [--port P] [--listings N] [--seed S]
[--database-url URL]`` prints one ``READY http://HOST:PORT`` line once the catalog is seeded and served.
This package import stays light (no FastAPI/SQLAlchemy): the launcher and the client only need httpx.
"""

from convoload_demo.realestate.catalog.client import CatalogClient, CatalogError
from convoload_demo.realestate.catalog.launcher import CatalogServer
from convoload_demo.realestate.catalog.settings import CatalogSettings

__all__ = ["CatalogClient", "CatalogError", "CatalogServer", "CatalogSettings"]
