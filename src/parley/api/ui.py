"""The web UI at ``/ui``: one page and its assets, shipped in the package (``api/ui/``).

Nothing to build and nothing from elsewhere: plain HTML, CSS and JavaScript modules. The page holds
no data; its script asks the API for it with the key the user gives it (kept for the browser
session), so the UI shows exactly what that key may see. Its Content-Security-Policy lets it load
and connect to this server only.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

ASSETS = Path(__file__).with_name("ui")
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "content-security-policy": POLICY,
    "x-content-type-options": "nosniff",
    "cache-control": "no-cache",
}


async def page(request: Request) -> Response:
    return FileResponse(ASSETS / "index.html", headers=HEADERS)


routes = [
    Route("/ui", page),
    Mount("/ui/assets", StaticFiles(directory=ASSETS), name="ui-assets"),
]
