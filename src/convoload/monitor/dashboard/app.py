"""The dashboard's ASGI app: the page, its JSON API, `/metrics` and the job reports. Read-only."""

from __future__ import annotations

import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError

from convoload.errors import ConfigError, StoreError
from convoload.monitor.catalog import CATALOG
from convoload.monitor.dashboard.auth import TokenAuth
from convoload.monitor.dashboard.exposition import render_metrics
from convoload.monitor.dashboard.settings import DashboardSettings
from convoload.monitor.dashboard.status import CHARTS, build_status, job_report, series_document
from convoload.monitor.store import MonitorStore
from convoload.store.results.migrations import SchemaVersionError

HERE = Path(__file__).resolve().parent
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# A report is agent-written text rendered by convoload: sandboxed, its scripts (the charts) run in an
# opaque origin that cannot call this dashboard's API with the user's cookie.
REPORT_CSP = "sandbox allow-scripts"
MAX_HOURS = 24 * 90
JOB_ID = re.compile(r"[0-9]{1,19}")
MAX_JOB_ID = 2**63 - 1  # the largest id a BIGINT column holds


class StoreUnavailable(StoreError):
    """The results database cannot be read (not created yet, or the server is down)."""


class LazyStore:
    """Opens the store on first use, so the dashboard may start before the monitor created it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._store: MonitorStore | None = None
        self._lock = threading.Lock()

    def get(self) -> MonitorStore:
        with self._lock:
            if self._store is None:
                try:
                    self._store = MonitorStore(self.url, create=False, read_only=True)
                except (ConfigError, SQLAlchemyError, SchemaVersionError) as exc:
                    raise StoreUnavailable(f"results store not readable yet: {type(exc).__name__}") from None
            return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
            self._store = None


@cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("convoload.monitor.dashboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def safe_report_path(report: str | None, runs_root: Path) -> Path | None:
    """The report file a job recorded, if it is a file under `runs_root` (symlinks resolved)."""
    if not report:
        return None
    root = runs_root.resolve()
    path = Path(report)
    path = (path if path.is_absolute() else root / path).resolve()
    if path.is_dir():
        path = (path / "report.html").resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def create_app(settings: DashboardSettings, *, ready_url: str | None = None) -> FastAPI:
    """The dashboard for `settings`; prints `READY <ready_url>` once serving when that is given."""
    store = LazyStore(settings.store_url)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if ready_url:
            print(f"READY {ready_url}", flush=True)  # the socket is already listening
        yield
        store.close()

    app = FastAPI(title=settings.title, docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    if settings.token:
        app.add_middleware(TokenAuth, token=settings.token)

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(StoreUnavailable)
    async def unavailable(_: Request, exc: StoreUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(SQLAlchemyError)
    async def database_error(_: Request, exc: SQLAlchemyError) -> JSONResponse:
        return JSONResponse({"detail": f"results store error: {type(exc).__name__}"}, status_code=503)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", response_class=HTMLResponse)
    def page() -> HTMLResponse:
        config = {
            "title": settings.title,
            "refresh_s": settings.refresh_s,
            "trend_hours": settings.trend_hours,
            "charts": CHARTS,
        }
        html = _templates().get_template("index.html.j2").render(title=settings.title, config=config)
        return HTMLResponse(html, headers={"Content-Security-Policy": PAGE_CSP})

    @app.get("/api/status")
    def status() -> dict[str, Any]:
        return build_status(
            store.get(),
            stale_after_s=settings.stale_after_s,
            title=settings.title,
            runs_root=settings.runs_root,
        )

    @app.get("/api/series")
    def series(
        name: Annotated[str, Query(max_length=100)],
        hours: Annotated[float, Query(gt=0, le=MAX_HOURS)] = 24.0,
    ) -> dict[str, Any]:
        if name not in CATALOG:
            raise HTTPException(404, detail=f"unknown metric {name!r}")
        return series_document(store.get(), name, hours)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(render_metrics(store.get()), media_type=CONTENT_TYPE_LATEST)

    @app.get("/reports/{job_id}")
    def report(job_id: str) -> FileResponse:
        # Any id that is not a job's (junk, a number no database column holds) has no report: 404.
        if not JOB_ID.fullmatch(job_id) or int(job_id) > MAX_JOB_ID:
            raise HTTPException(404, detail="no such report")
        path = safe_report_path(job_report(store.get(), int(job_id)), settings.runs_root)
        if path is None:
            raise HTTPException(404, detail=f"no report for job {job_id}")
        return FileResponse(path, headers={"Content-Security-Policy": REPORT_CSP})

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app
