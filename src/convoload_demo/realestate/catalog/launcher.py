"""Run the property catalog API in a subprocess and wait for its ``READY`` line."""

from __future__ import annotations

from convoload.servers import ManagedServer
from convoload_demo.realestate.catalog.settings import CatalogSettings


class CatalogServer(ManagedServer):
    """Context manager owning one ``python -m convoload_demo.realestate.catalog`` subprocess.

    >>> with CatalogServer(CatalogSettings(listings=2_000)) as server:  # doctest: +SKIP
    ...     httpx.get(server.url + "/api/properties/search", params={"city": "Curitiba"})
    """

    module = "convoload_demo.realestate.catalog"
    label = "property catalog"
    settings_type = CatalogSettings
    default_startup_timeout_s = 120.0  # seeding 100k listings takes several seconds

    @property
    def search_url(self) -> str:
        return self.url + "/api/properties/search"
