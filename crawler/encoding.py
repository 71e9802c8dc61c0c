"""Turning the bytes of an HTML page into text: which encoding, and decoding with it.

The cascade (w3lib's `html_to_unicode`, as Scrapy's own `TextResponse` uses it, so a parser
sees the same text whether it gets `response.text` or the raw body):

1. a byte-order mark; it cannot be there by accident, and browsers let it win;
2. the charset of the HTTP Content-Type header;
3. `<meta charset>` / `<meta http-equiv="Content-Type">` (or an XML declaration);
4. detection: strict UTF-8 first (the web's default, and cheap), then charset-normalizer.

GB2312 and GBK labels decode as GB18030, their superset (w3lib maps them). One correction on
top of w3lib: a page whose `<meta>` declares a legacy encoding but whose bytes are valid UTF-8
with non-ASCII characters is decoded as UTF-8. Pages re-saved by tools keep the old meta
(people.com.cn fixtures say GB2312 and are UTF-8), and valid multi-byte UTF-8 almost never
happens by chance in GBK or windows-1251 text. A header is trusted as given.
"""

from __future__ import annotations

import codecs
import logging

from charset_normalizer import from_bytes
from w3lib.encoding import (
    html_body_declared_encoding,
    html_to_unicode,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
)

logger = logging.getLogger(__name__)

_UTF8 = "utf-8"


def _canonical(name: str) -> str:
    """Python's canonical codec name ("utf_8" -> "utf-8", "GB18030" -> "gb18030")."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        return name


def _is_utf8_with_non_ascii(body: bytes) -> bool:
    if body.isascii():
        return False
    try:
        body.decode(_UTF8)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(body: bytes) -> str | None:
    """The encoding of undeclared bytes: UTF-8 if they are valid UTF-8, else charset-normalizer."""
    if _is_utf8_with_non_ascii(body) or body.isascii():
        return _UTF8
    best = from_bytes(body).best()
    if best is None:
        return None
    return resolve_encoding(best.encoding) or best.encoding


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Decode an HTML body; returns (text, encoding name) with a Python codec name.

    `content_type` is the HTTP Content-Type header value, if there was one. Undecodable bytes
    become U+FFFD; this never raises on bad input.
    """
    bom_encoding, _bom = read_bom(body)
    if bom_encoding is None and http_content_type_encoding(content_type) is None:
        declared = html_body_declared_encoding(body)
        if declared and _canonical(declared) != _UTF8 and _is_utf8_with_non_ascii(body):
            logger.debug("<meta> declares %s but the bytes are UTF-8; decoding as UTF-8", declared)
            return body.decode(_UTF8), _UTF8
    encoding, text = html_to_unicode(
        content_type, body, default_encoding=_UTF8, auto_detect_fun=detect_encoding
    )
    return text, _canonical(encoding)
