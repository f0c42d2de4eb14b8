"""``gliaflow studio``: serve the studio on localhost, one Studio per browser session."""
from __future__ import annotations

import os

import panel as pn

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # uploads travel over the websocket: size-limit them


def make_app(design: str | None = None):
    from .app import Studio

    def app():
        pn.extension(notifications=False)
        s = Studio(design)
        return s

    return app


def serve(design: str | None = None, *, address: str = "127.0.0.1", port: int = 5006, show: bool = False,
          threaded: bool = True) -> None:
    pn.extension()
    allow = [f"{address}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"]
    pn.serve({"/": make_app(design)}, address=address, port=port, show=show, title="gliaflow studio",
             websocket_origin=allow, websocket_max_message_size=MAX_MESSAGE_BYTES, threaded=threaded,
             num_threads=0 if not threaded else None, verbose=False,
             static_dirs={}, admin=False, autoreload=False)


if __name__ == "__main__":  # pragma: no cover
    import sys
    serve(sys.argv[1] if len(sys.argv) > 1 else None, port=int(os.environ.get("PORT", 5006)))
