"""The API's documentation pages, from assets shipped in the package (`app/static/`).

FastAPI's own `/docs` and `/redoc` load Swagger UI and ReDoc from a CDN and start Swagger
UI from an inline script. These load the vendored copies (see `app/static/README.md`)
and Swagger UI starts from `liangpiao-init.js`, so that the pages' policy
(`middleware.DOCS_CSP`) names no host but the API's own.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
STATIC_URL = "/static"
DOCS_URL = "/docs"
REDOC_URL = "/redoc"
SWAGGER = f"{STATIC_URL}/swagger-ui"
OAUTH2_REDIRECT_URL = f"{SWAGGER}/oauth2-redirect.html"
FAVICON_URL = f"{SWAGGER}/favicon-32x32.png"
# The HTML pages that get the documentation's policy rather than the API's.
DOCS_PAGES = frozenset({DOCS_URL, REDOC_URL, OAUTH2_REDIRECT_URL})
# The assets are pinned files that change with a release: a browser may keep them an hour.
ASSET_CACHE_CONTROL = "public, max-age=3600"


class Assets(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = ASSET_CACHE_CONTROL
        return response


def swagger_ui_html(*, title: str, openapi_url: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)}</title>
<link rel="shortcut icon" href="{FAVICON_URL}">
<link type="text/css" rel="stylesheet" href="{SWAGGER}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{escape(openapi_url)}"
     data-oauth2-redirect-url="{OAUTH2_REDIRECT_URL}"></div>
<script src="{SWAGGER}/swagger-ui-bundle.js"></script>
<script src="{SWAGGER}/liangpiao-init.js"></script>
</body>
</html>
"""


def install_docs(app: FastAPI) -> None:
    """`/docs`, `/redoc` and the assets under `/static`, outside the API document."""
    openapi_url = app.openapi_url or "/openapi.json"
    app.mount(STATIC_URL, Assets(directory=STATIC_DIR), name="static")
    swagger = swagger_ui_html(title=f"{app.title} - Swagger UI", openapi_url=openapi_url)
    redoc_page = get_redoc_html(
        openapi_url=openapi_url,
        title=f"{app.title} - ReDoc",
        redoc_js_url=f"{STATIC_URL}/redoc/redoc.standalone.js",
        redoc_favicon_url=FAVICON_URL,
        with_google_fonts=False,
    )
    redoc = bytes(redoc_page.body).decode()

    # Plain routes, as FastAPI's own pages are: not operations of the API.
    async def swagger_ui(request: Request) -> HTMLResponse:
        return HTMLResponse(swagger)

    async def redoc_html(request: Request) -> HTMLResponse:
        return HTMLResponse(redoc)

    app.add_route(DOCS_URL, swagger_ui, include_in_schema=False)
    app.add_route(REDOC_URL, redoc_html, include_in_schema=False)
