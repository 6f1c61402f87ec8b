"""The monitor's web dashboard and Prometheus `/metrics`: a separate process that only reads the store.

`python -m convoload.monitor.dashboard --store-url URL --runs-root DIR` serves it; `DashboardServer`
runs that as a managed subprocess and `create_app` builds the ASGI app for any other server.
"""

from convoload.monitor.dashboard.settings import TOKEN_ENV, DashboardSettings, is_loopback

__all__ = ["TOKEN_ENV", "DashboardServer", "DashboardSettings", "create_app", "is_loopback"]


def __getattr__(name: str) -> object:
    # FastAPI and the launcher load on first use: `python -m` reaches __main__ through this module,
    # and the bind should not wait for those imports.
    if name == "create_app":
        from convoload.monitor.dashboard.app import create_app

        return create_app
    if name == "DashboardServer":
        from convoload.monitor.dashboard.launcher import DashboardServer

        return DashboardServer
    raise AttributeError(name)
