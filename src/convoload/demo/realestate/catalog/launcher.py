"""Run the property catalog API in a subprocess and wait for its ``READY`` line."""

from __future__ import annotations

from convoload.demo.process import ManagedServer
from convoload.demo.realestate.catalog.settings import CatalogSettings


class CatalogServer(ManagedServer):
    """Context manager owning one ``python -m convoload.demo.realestate.catalog`` subprocess.

    >>> with CatalogServer(CatalogSettings(listings=2_000)) as server:  # doctest: +SKIP
    ...     httpx.get(server.url + "/api/properties/search", params={"city": "Curitiba"})
    """

    module = "convoload.demo.realestate.catalog"
    label = "property catalog"

    def __init__(
        self,
        settings: CatalogSettings | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout_s: float = 120.0,  # seeding 100k listings takes several seconds
        python: str | None = None,
    ) -> None:
        super().__init__(host=host, port=port, startup_timeout_s=startup_timeout_s, python=python)
        self.settings = settings or CatalogSettings()

    @property
    def search_url(self) -> str:
        return self.url + "/api/properties/search"

    def _args(self) -> list[str]:
        return [*super()._args(), *self.settings.cli_args()]
