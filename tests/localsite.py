"""A real HTTP server on 127.0.0.1 that serves a dict of pages, for crawl tests.

Tests mutate `site.pages` between crawls (to change an article, remove a page) and read
`site.requests` to see what the crawler asked for.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Page:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    # The Authorization header the page is served to ("Basic ..."); anyone else gets a 401.
    auth: str | None = None


class LocalSite:
    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}
        self.requests: list[str] = []
        # (path, Authorization header or None) of every request, for tests of credentials.
        self.authorizations: list[tuple[str, str | None]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.requests.append(self.path)
                given = self.headers.get("Authorization")
                site.authorizations.append((self.path, given))
                page = site.pages.get(self.path)
                if page is None:
                    page = Page(b"<html><body>not found</body></html>", status=404)
                elif page.auth is not None and given != page.auth:
                    page = Page(b"log in", "text/plain", 401, {"WWW-Authenticate": "Basic"})
                self.send_response(page.status)
                self.send_header("Content-Type", page.content_type)
                self.send_header("Content-Length", str(len(page.body)))
                for name, value in page.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(page.body)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test reads site.requests instead."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, path: str, body: str | bytes, **kwargs: object) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.pages[path] = Page(data, **kwargs)  # type: ignore[arg-type]

    def __enter__(self) -> LocalSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
