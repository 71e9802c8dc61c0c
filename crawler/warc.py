"""Record and replay: every response to a WARC file, and crawls served back from one.

`ArchiveWriter` (an extension) writes each downloaded response as a WARC `response` record.
`ReplayDownloadHandler` answers every http(s) request from WARC files instead of the network;
a URL that is not in the archive is a logged 404, so a replayed crawl behaves like a live one
against a site that lacks that page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import IO, TYPE_CHECKING, Self

from scrapy import signals
from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.exceptions import NotConfigured
from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes
from w3lib.url import safe_url_string
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

# Scrapy hands us bodies already decompressed and de-chunked; these headers would lie.
_DROP_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}


class ArchiveError(RuntimeError):
    """A WARC file cannot be read or written."""


def _key(url: str) -> str:
    return safe_url_string(url)


@dataclass(frozen=True)
class _Entry:
    path: Path
    offset: int


class WarcIndex:
    """URL -> record location for one or more WARC files (the last record for a URL wins)."""

    def __init__(self, paths: list[Path]) -> None:
        self.entries: dict[str, _Entry] = {}
        for path in paths:
            self._index(path)

    def _index(self, path: Path) -> None:
        try:
            with path.open("rb") as stream:
                records = ArchiveIterator(stream)
                for record in records:
                    if record.rec_type != "response":
                        continue
                    url = record.rec_headers.get_header("WARC-Target-URI")
                    if url:
                        self.entries[_key(url)] = _Entry(path, records.get_record_offset())
        except OSError as exc:
            raise ArchiveError(f"Cannot read archive {path}: {exc}") from exc
        except Exception as exc:
            raise ArchiveError(f"{path} is not a readable WARC file: {exc}") from exc

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, url: str) -> bool:
        return _key(url) in self.entries

    def urls(self) -> list[str]:
        return list(self.entries)

    def get(self, url: str) -> tuple[int, list[tuple[str, str]], bytes] | None:
        entry = self.entries.get(_key(url))
        if entry is None:
            return None
        with entry.path.open("rb") as stream:
            stream.seek(entry.offset)
            record = next(iter(ArchiveIterator(stream)))
            status = int(record.http_headers.get_statuscode() or 200)
            headers = list(record.http_headers.headers)
            body = record.content_stream().read()
        return status, headers, body


class ReplayDownloadHandler(BaseDownloadHandler):
    """Serves http and https from the archives named in PRESSWATCH_REPLAY (a list of paths)."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        paths = crawler.settings.getlist("PRESSWATCH_REPLAY")
        if not paths:
            raise NotConfigured("PRESSWATCH_REPLAY is not set")
        self.index = WarcIndex([Path(p) for p in paths])
        logger.info("Replaying %d URLs from %s", len(self.index), ", ".join(paths))

    async def download_request(self, request: Request) -> Response:
        found = self.index.get(request.url)
        stats = self.crawler.stats
        if found is None:
            logger.info("Not in the archive (404): %s", request.url)
            if stats is not None:
                stats.inc_value("replay/missing")
            return Response(url=request.url, status=404, body=b"", request=request)
        status, header_pairs, body = found
        headers = Headers()
        for name, value in header_pairs:
            if name.lower() not in _DROP_HEADERS:
                headers.appendlist(name, value)
        cls = responsetypes.from_args(headers=headers, url=request.url, body=body)
        return cls(url=request.url, status=status, headers=headers, body=body, request=request)


class ArchiveWriter:
    """Writes every response the crawl receives to the WARC file PRESSWATCH_ARCHIVE."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stream: IO[bytes] | None = None
        self._writer: WARCWriter | None = None
        self.records = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        path = crawler.settings.get("PRESSWATCH_ARCHIVE")
        if not path:
            raise NotConfigured("PRESSWATCH_ARCHIVE is not set")
        ext = cls(Path(path))
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.response_received, signal=signals.response_received)
        return ext

    def spider_opened(self, spider: Spider) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Append: several crawls (one per source) may share one archive file; a gzip WARC is
        # a sequence of members, so appending keeps it valid.
        self._stream = self.path.open("ab")
        self._writer = WARCWriter(self._stream, gzip=str(self.path).endswith(".gz"))

    def spider_closed(self, spider: Spider) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        logger.info("Archived %d responses to %s", self.records, self.path)

    def response_received(self, response: Response, request: Request, spider: Spider) -> None:
        if self._writer is None or self._stream is None:
            return
        write_response(
            self._writer,
            url=response.url,
            status=response.status,
            headers=[
                (k.decode("latin-1"), v.decode("latin-1"))
                for k, values in response.headers.items()
                for v in values
                if k.decode("latin-1").lower() not in _DROP_HEADERS
            ],
            body=response.body,
        )
        self._stream.flush()
        self.records += 1


def write_response(
    writer: WARCWriter,
    *,
    url: str,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
    date: datetime | None = None,
) -> None:
    """One WARC `response` record: the HTTP status line and headers, then the body."""
    reason = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found"}.get(status, "")
    http_headers = StatusAndHeaders(
        f"{status} {reason}".strip(),
        [*headers, ("Content-Length", str(len(body)))],
        protocol="HTTP/1.1",
    )
    warc_headers = {
        "WARC-Date": (date or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    record = writer.create_warc_record(
        url,
        "response",
        payload=BytesIO(body),
        length=len(body),
        http_headers=http_headers,
        warc_headers_dict=warc_headers,
    )
    writer.write_record(record)
