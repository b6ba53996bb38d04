"""The direct way in: routes whose handlers read their request themselves, past FastAPI.

FastAPI's routing and parameter machinery would be most of the cost of a one-value push or of
a range query over a few series. Such handlers take the Request alone and read it themselves,
so this middleware hands them their requests straight away. The routes stay declared in their routers, for the OpenAPI document.
"""

from __future__ import annotations

from fastapi import Request

from .errors import refusal


def direct_routes(router, *paths: str) -> dict:
    """{path: (methods, handler)} of a router's routes at `paths`; a path's routes (one per
    method) share their handler."""
    routes: dict = {}
    for route in router.routes:
        if route.path in paths:
            methods = routes[route.path][0] if route.path in routes else set()
            routes[route.path] = (methods | route.methods, route.endpoint)
    return routes


class DirectRoutes:
    """ASGI middleware that hands the requests of `routes` straight to their handlers; what they
    raise is answered by the app's exception `handlers`, as on FastAPI's way."""

    def __init__(self, app, routes: dict, handlers: dict) -> None:
        self.app = app
        self.routes = routes
        self.handlers = handlers

    async def __call__(self, scope, receive, send) -> None:
        route = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] not in route[0]:
            # Answered here: on FastAPI's way the web app's files, mounted at /, would take the
            # request and answer a GET of /api/points with 404.
            response = refusal(405, "Method Not Allowed", headers={"allow": ", ".join(sorted(route[0]))})
            await response(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await route[1](request)
        except Exception as error:
            handler = next((self.handlers[kind] for kind in type(error).__mro__ if kind in self.handlers), None)
            if handler is None:
                raise
            response = await handler(request, error)
        await response(scope, receive, send)
