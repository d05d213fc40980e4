"""The web page of ``watch --serve`` as a Starlette app: the page, its JSON, the pictures
and a Prometheus ``/metrics``, all read from a :class:`~convlstm_ae.live.live_state.LiveState`.

Endpoints (GET):
    ``/``: the page (``page/``: HTML, script and style; nothing loaded from elsewhere).
    ``/api/cameras``: each camera's id and name.
    ``/api/status``: per camera frames, events, drops, reconnects, frames/s in and out,
    latency, the latest score and whether an event is open (the status watch hands its
    sinks, as on MQTT).
    ``/api/cameras/{id}/scores``: the score curve of the last minutes and the threshold.
    ``/api/cameras/{id}/frame.jpg``: the latest frame with its heat map.
    ``/api/events?since=ID``: the events with an id above ID (default 0: all kept),
    newest first; ids count up from 1 in the order events end.
    ``/api/events/{id}/snapshot.png``: an event's peak frame.
    ``/api/events/{id}/clip.mp4``: an event's clip (``--clips``), once it is written.
    ``/metrics``: Prometheus text exposition, one series per camera.

With a token, every request must carry it: ``Authorization: Bearer TOKEN``, or
``?token=TOKEN`` (the page then sets it as a cookie and drops it from the address), or
that cookie. Without one (loopback only), requests must name a loopback host, so a web
page elsewhere cannot reach the server through DNS rebinding. The page inserts every name
as text, never as HTML.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from importlib.resources import files

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from convlstm_ae.live.live_state import LiveState

COOKIE = "convlstm_ae_token"
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]
HEADERS = [  # on every response
    (b"content-security-policy", b"default-src 'self'; img-src 'self'; object-src 'none'; "
     b"frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]
PAGE_FILES = {"/": ("page.html", "text/html; charset=utf-8"),
              "/page.js": ("page.js", "text/javascript; charset=utf-8"),
              "/page.css": ("page.css", "text/css; charset=utf-8")}
METRICS = (  # name, type, help, status key, scale
    ("frames_total", "counter", "Frames scored.", "frames", None),
    ("drops_total", "counter", "Frames dropped because scoring fell behind.", "drops", None),
    ("skipped_total", "counter", "Frames left out to score at the model's frame rate.",
     "skipped", None),
    ("reconnects_total", "counter", "Reconnects of a dropped stream.", "reconnects", None),
    ("events_total", "counter", "Anomaly events ended.", "events", None),
    ("latency_seconds", "gauge", "Seconds from grab to score of the last frame.",
     "latency_ms", 1e-3),
    ("frames_per_second", "gauge", "Frames scored per second.", "fps_out", None),
    ("score", "gauge", "The latest score.", "score", None),
    ("alarm", "gauge", "1 while an event is open.", "alarm", None),
)


def page_app(state: LiveState, token: str | None = None) -> Starlette:
    """The page's app over ``state``; with ``token``, every request must carry it, else
    only loopback host names are served."""
    page = files("convlstm_ae.live") / "page"
    bodies = {path: (page.joinpath(name).read_bytes(), kind)
              for path, (name, kind) in PAGE_FILES.items()}

    def static(request: Request) -> Response:
        body, kind = bodies[request.url.path]
        return Response(body, media_type=kind)

    def camera(handler: Callable[[int], Response]) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            index = request.path_params["camera"]
            if index >= len(state.names):
                return JSONResponse({"error": f"no camera {index}"}, status_code=404)
            return handler(index)
        return endpoint

    def events(request: Request) -> Response:
        since = request.query_params.get("since", "0")
        if not since.isdigit():
            return JSONResponse({"error": "since: expected an event id (a whole number)"},
                                status_code=400)
        return JSONResponse({"events": state.events(int(since))})

    def snapshot(request: Request) -> Response:
        path = state.snapshot(request.path_params["event"])
        if path is None:
            return JSONResponse({"error": "no such event kept"}, status_code=404)
        return FileResponse(path, media_type="image/png")

    def clip(request: Request) -> Response:
        path = state.clip(request.path_params["event"])
        if path is None:
            return JSONResponse({"error": "no clip of this event (yet)"}, status_code=404)
        return FileResponse(path, media_type="video/mp4", filename=path.name)

    routes = [
        *(Route(path, static) for path in PAGE_FILES),
        Route("/api/cameras", lambda request: JSONResponse({"cameras": state.cameras()})),
        Route("/api/status", lambda request: JSONResponse(state.page_status())),
        Route("/api/cameras/{camera:int}/scores",
              camera(lambda index: JSONResponse(state.curve(index)))),
        Route("/api/cameras/{camera:int}/frame.jpg",
              camera(lambda index: Response(state.picture(index), media_type="image/jpeg"))),
        Route("/api/events", events),
        Route("/api/events/{event:int}/snapshot.png", snapshot),
        Route("/api/events/{event:int}/clip.mp4", clip),
        Route("/metrics", lambda request: PlainTextResponse(
            metrics_text(state.page_status()), media_type="text/plain; version=0.0.4")),
    ]
    guard = (Middleware(_TokenGate, token=token) if token else
             Middleware(TrustedHostMiddleware, allowed_hosts=LOOPBACK_HOSTS))
    return Starlette(routes=routes, middleware=[Middleware(_Headers), guard])


def metrics_text(status: dict) -> str:
    """The Prometheus text exposition of ``status`` (:meth:`LiveState.page_status`): one
    series per camera and metric, labelled by the camera's name."""
    lines = []
    for name, kind, meaning, key, scale in METRICS:
        lines += [f"# HELP convlstm_ae_{name} {meaning}", f"# TYPE convlstm_ae_{name} {kind}"]
        for camera in status["cameras"]:
            value = camera.get(key)
            if value is not None:
                value = value if scale is None else round(value * scale, 9)
                label = label_value(camera["name"])
                number = repr(float(value)) if isinstance(value, float) else int(value)
                lines.append(f'convlstm_ae_{name}{{camera="{label}"}} {number}')
    return "\n".join(lines) + "\n"


def label_value(text: str) -> str:
    """``text`` as a Prometheus label value: backslash, double quote and newline escaped."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _Headers:
    """Adds :data:`HEADERS` to every response (pure ASGI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)


class _TokenGate:
    """401 for every request without the token (header, query or cookie); a page opened
    with ``?token=`` gets it as a cookie and is sent on without it in the address."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    def _matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        bearer = request.headers.get("authorization", "")
        query = request.query_params.get("token")
        if self._matches(query) and request.url.path == "/":
            response: Response = RedirectResponse("/", status_code=303)
            response.set_cookie(COOKIE, query, httponly=True, samesite="strict")
        elif (self._matches(bearer.removeprefix("Bearer ")) and bearer.startswith("Bearer ")
              or self._matches(query) or self._matches(request.cookies.get(COOKIE))):
            await self.app(scope, receive, send)
            return
        else:
            response = PlainTextResponse(
                "401 Unauthorized: send 'Authorization: Bearer TOKEN', or open /?token=TOKEN\n",
                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        await response(scope, receive, send)
