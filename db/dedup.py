"""Identity and change detection: canonical URLs, article ids and content/record hashes.

Owns the rules that decide when two URLs are one article (`canonical_url`, `article_id`)
and when a fetched record differs from the stored one (`content_hash`, `record_hash`).
Changing a rule here changes ids and hashes of every stored article, so each rule is
covered by a parametrised test of URL pairs that must and must not fold.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import unicodedata
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

logger = logging.getLogger(__name__)

# Query parameters that only say where a reader came from. Compared case-insensitively.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "yclid",
        "msclkid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "spm",  # Alibaba/Tmall-style click tracking, common on Chinese sites
        "scm",
        "from",
        "share",
        "ref",
        "ref_src",
        "cmpid",
        "ito",
        "_ga",
    }
)
TRACKING_PREFIXES = ("utm_",)

# Host labels of mobile and AMP mirrors: m.example.com serves the same article as
# www.example.com (www. itself is folded only in the identity key, see `article_id`).
_MOBILE_HOST = re.compile(r"^(?:m|mobile|amp)\.(?=[^.]+\.)")
_AMP_PATH_PREFIX = re.compile(r"^/amp(?=/)")
# WordPress-style ".../story/amp/" is the twin of ".../story/"; ".../story/amp" of ".../story".
_AMP_PATH_SUFFIX = re.compile(r"(?<=.)/amp(/?)$")
# "story.amp" and "story.amp.html" are the AMP twins of "story" and "story.html".
_AMP_EXTENSION = re.compile(r"\.amp(?=\.s?html?$|$)")
_INDEX_TAIL = re.compile(r"(?<=/)index\.(?:html?|shtml)$")
_AMP_QUERY = {"amp": None, "outputtype": "amp"}  # None: any value means AMP
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_url(url: str) -> str:
    """The canonical form of an article URL: w3lib canonicalisation, minus tracking and AMP.

    Lower-cases the scheme and host, sorts the query, drops the fragment, tracking
    parameters, default ports, mobile/AMP hosts and paths and `index.html` tails.
    http/https and a leading `www.` are kept: the result is still a URL one can fetch.

    >>> canonical_url("https://m.Example.com/amp/a/1.html?utm_source=x&id=3#top")
    'https://example.com/a/1.html?id=3'
    """
    raw = (url or "").strip()
    parts = urlsplit(raw)
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"Not an http(s) URL: {url!r}. Article URLs must be absolute.")
    parts = urlsplit(canonicalize_url(raw))
    scheme = parts.scheme
    host = _MOBILE_HOST.sub("", parts.hostname or "")
    # Rebuilt from host and port only: user:password@ never identifies an article.
    netloc = host
    if parts.port is not None and parts.port != _DEFAULT_PORTS[scheme]:
        netloc = f"{host}:{parts.port}"
    path = parts.path or "/"
    path = _AMP_PATH_PREFIX.sub("", path)
    path = _AMP_PATH_SUFFIX.sub(r"\1", path) or "/"
    path = _AMP_EXTENSION.sub("", path)
    path = _INDEX_TAIL.sub("", path)
    query = "&".join(p for p in parts.query.split("&") if p and not _drop_param(p))
    return urlunsplit((scheme, netloc, path, query, ""))


def _drop_param(pair: str) -> bool:
    name, _, value = pair.partition("=")
    name = unquote(name).lower()
    if name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES):
        return True
    if name in _AMP_QUERY:
        wanted = _AMP_QUERY[name]
        return wanted is None or unquote(value).lower() == wanted
    return False


def identity_key(url: str) -> str:
    """The string hashed into an article id: the canonical URL without scheme and `www.`."""
    parts = urlsplit(canonical_url(url))
    host = parts.netloc.removeprefix("www.")
    # http and https serve the same article; the identity must not depend on which was seen.
    return urlunsplit(("", host, parts.path, parts.query, ""))


def article_id(url: str) -> str:
    """The stable id of the article at `url`: the first 16 hex digits of a sha256."""
    return hashlib.sha256(identity_key(url).encode("utf-8")).hexdigest()[:16]


def fold_text(text: str | None) -> str:
    """NFC-normalised text with every run of whitespace turned into one space."""
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def content_hash(title: str | None, body: str | None) -> str:
    """sha256 hex of the folded title and body: equal for the same story on any URL."""
    # A newline cannot occur in folded text, so "a b" + "c" and "a" + "b c" differ.
    text = f"{fold_text(title)}\n{fold_text(body)}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# Fields that change on every fetch without the page changing, and how the bytes were decoded:
# a different decoding that changes the text changes title or body anyway, and leaving the
# charset fields out keeps the hashes of records stored before they existed.
RECORD_HASH_EXCLUDED = frozenset({"fetched_at", "charset", "charset_repaired_from"})


def record_hash(record: dict[str, Any]) -> str:
    """sha256 hex of every field of `record` but RECORD_HASH_EXCLUDED, in a stable JSON form."""
    kept = {k: v for k, v in record.items() if k not in RECORD_HASH_EXCLUDED}
    text = json.dumps(kept, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
