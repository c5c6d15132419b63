"""The dashboard: pages a regulator, a park operator or a firm reads in the browser (docs/dashboard.md).

Rendered on the server from the same functions as the API, so every page is readable without JavaScript
(tables, and the graphs drawn as SVG); the one script (static/dashboard.js, written here, no CDN) adds
wallet sign-in, panning and zooming of the lineage graph, and highlighting. Not part of the OpenAPI.
"""

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from ledger_service.api.errors import ApiError
from ledger_service.dashboard import pages, parks, sign_in
from ledger_service.dashboard.web import HERE, PREFIX, SignInNeeded, error_page, sign_in_redirect


def install(app: FastAPI) -> None:
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="dashboard-static")
    app.include_router(sign_in.router)
    app.include_router(pages.router)
    app.include_router(parks.router)

    @app.get("/", include_in_schema=False)
    @app.get(PREFIX, include_in_schema=False)
    def _dashboard() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    async def _sign_in_needed(request: Request, _: Exception) -> Response:
        return RedirectResponse(sign_in_redirect(request), status_code=303)

    json_answer = app.exception_handlers[ApiError]

    async def _refused(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith(PREFIX + "/") and isinstance(exc, ApiError):
            return error_page(request, exc)
        return await json_answer(request, exc)  # type: ignore[no-any-return]

    app.add_exception_handler(SignInNeeded, _sign_in_needed)
    app.add_exception_handler(ApiError, _refused)
