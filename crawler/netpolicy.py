"""The address policy: which URLs the crawler may fetch, checked before each request and again
when connecting.

A user's presswatch.toml may point the crawler anywhere, and a watched site may redirect it
anywhere: to 127.0.0.1, to a cloud metadata service at 169.254.169.254, to an intranet host.
The policy refuses every URL whose scheme is not http(s), or whose host is, or resolves to, an
unspecified, loopback, private, shared (carrier-grade NAT), link-local, multicast or reserved
address, unless `[crawl] allow_addresses` in presswatch.toml lists it (the setting
PRESSWATCH_ALLOW_ADDRESSES, set by `crawler.runner`).

1. `AddressPolicyMiddleware`, a downloader middleware placed before robots.txt handling, checks
   every request: start requests, robots.txt, feeds, sitemaps, and each redirect and meta
   refresh hop, since Scrapy sends every new request down the whole middleware chain. A host
   name is resolved through the reactor's resolver, in its thread pool, so the check never
   blocks the crawl. IP literals are read in every form the system resolver accepts
   (`2130706433`, `0x7f.1`, `0177.0.0.1`, `::ffff:127.0.0.1`).
2. `PolicyResolver`, installed as TWISTED_DNS_RESOLVER, is what Twisted resolves with when it
   connects (IP literals included, HostnameEndpoint sends them all through it). It refuses the
   same addresses, so the address connected to is a checked one even when DNS answers
   differently the second time (DNS rebinding).

A refusal is a warning naming the URL, the address and the category, a stat
`netpolicy/refused/<category>`, and an IgnoreRequest: the rest of the crawl goes on. A name
that does not resolve is an ordinary download error, not a refusal. A replay fetches nothing
and looks nothing up: only the scheme is checked.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NoReturn, Self

from scrapy import signals
from scrapy.exceptions import CannotResolveHostError, IgnoreRequest
from scrapy.resolver import CachingThreadedResolver
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.error import DNSLookupError
from twisted.internet.interfaces import IResolverSimple
from zope.interface import implementer

if TYPE_CHECKING:
    from collections.abc import Sequence

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from twisted.internet.base import ReactorBase
    from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = ("http", "https")

# IANA's special-purpose registries, spelled out rather than left to ipaddress.is_private,
# whose answers have changed between Python patch releases. The first match wins.
_BLOCKED = (
    ("unspecified", "0.0.0.0/8"),  # "this network": Linux connects 0.0.0.0 to localhost
    ("loopback", "127.0.0.0/8"),
    ("private", "10.0.0.0/8"),
    ("private", "172.16.0.0/12"),
    ("private", "192.168.0.0/16"),
    ("shared", "100.64.0.0/10"),  # carrier-grade NAT, RFC 6598
    ("link_local", "169.254.0.0/16"),  # cloud metadata services live here
    ("multicast", "224.0.0.0/4"),
    ("reserved", "192.0.0.0/24"),
    ("reserved", "192.0.2.0/24"),
    ("reserved", "192.88.99.0/24"),
    ("reserved", "198.18.0.0/15"),
    ("reserved", "198.51.100.0/24"),
    ("reserved", "203.0.113.0/24"),
    ("reserved", "240.0.0.0/4"),  # includes 255.255.255.255
    ("unspecified", "::/128"),
    ("loopback", "::1/128"),
    ("reserved", "::/96"),  # IPv4-compatible, deprecated
    ("private", "64:ff9b:1::/48"),  # local-use NAT64
    ("reserved", "100::/64"),
    ("reserved", "2001::/23"),  # Teredo, ORCHID and other protocol assignments
    ("reserved", "2001:db8::/32"),
    ("private", "fc00::/7"),
    ("link_local", "fe80::/10"),
    ("private", "fec0::/10"),  # site-local, deprecated but still routed by some networks
    ("multicast", "ff00::/8"),
)
# For log lines: "localhost resolves to 127.0.0.1, a loopback address".
DESCRIPTIONS = {
    "scheme": "not an http(s) URL",
    "unspecified": "an unspecified address",
    "loopback": "a loopback address",
    "private": "a private address",
    "shared": "a shared (carrier-grade NAT) address",
    "link_local": "a link-local address",
    "multicast": "a multicast address",
    "reserved": "a reserved address",
}
BLOCKED_NETWORKS = tuple((ipaddress.ip_network(net), category) for category, net in _BLOCKED)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

# One part of an inet_aton address: hex (0x..), octal (leading 0) or decimal.
_PART = re.compile(r"0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*")


def parse_ip(host: str) -> IPAddress | None:
    """The address `host` spells, in any form the system resolver reads as one, or None.

    glibc's resolver (gethostbyname, getaddrinfo) reads numbers with inet_aton, which takes
    1 to 4 parts, each decimal, octal or hex, the last filling the remaining bytes:
    `2130706433`, `0x7f.1`, `0177.0.0.1` and `127.1` are all 127.0.0.1.
    """
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        # Not in the canonical spelling: inet_aton's forms, or a host name.
        return _inet_aton(text)


def _inet_aton(text: str) -> ipaddress.IPv4Address | None:
    parts = text.split(".")
    if not 1 <= len(parts) <= 4 or not all(_PART.fullmatch(p) for p in parts):
        return None
    values = [
        int(p, 0) if p[:2].lower() == "0x" else int(p, 8 if p[0] == "0" else 10) for p in parts
    ]
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(values)):
        return None
    number = last
    for i, value in enumerate(head):
        number |= value << (8 * (3 - i))
    return ipaddress.IPv4Address(number)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a mapped, NAT64 or 6to4 IPv6 address reaches."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def classify(address: IPAddress) -> str | None:
    """The category that blocks `address` (loopback, private, ...), or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            category = classify(embedded)
            if category or address.ipv4_mapped is not None:
                return category
    for network, category in BLOCKED_NETWORKS:
        if address.version == network.version and address in network:
            return category
    # Whatever the registries add later, and IPv6 outside 2000::/3.
    if address.is_reserved or not address.is_global:
        return "reserved"
    return None


class AddressPolicy:
    """Public addresses, plus those the user allows: which the crawler may connect to."""

    def __init__(self, allow: Iterable[str] = ()) -> None:
        # crawler.config validated each entry; a bad one here is a programming error.
        self.allow = tuple(ipaddress.ip_network(a, strict=False) for a in allow)

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> AddressPolicy:
        return cls(settings.getlist("PRESSWATCH_ALLOW_ADDRESSES"))

    def refusal(self, address: IPAddress) -> str | None:
        """Why the crawler may not connect to `address` (a category), or None if it may."""
        category = classify(address)
        if category is None or self.allows(address):
            return None
        return category

    def allows(self, address: IPAddress) -> bool:
        candidates = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)  # what the connection really reaches
        return any(a in network for a in candidates for network in self.allow)


class AddressRefused(DNSLookupError):
    """A DNS answer the address policy refuses: to Twisted, a lookup that found nothing."""

    def __init__(self, name: str, address: str, category: str) -> None:
        super().__init__(f"{name} resolves to {address}, {DESCRIPTIONS[category]}")
        self.name, self.address, self.category = name, address, category


@implementer(IResolverSimple)
class PolicyResolver(CachingThreadedResolver):
    """Scrapy's caching resolver, refusing the answers the address policy refuses.

    CrawlerProcess builds it once per process from the process settings, so it cannot count
    per-crawl stats: it logs, and remembers the refusal for `AddressPolicyMiddleware`, which
    counts it when the failed download comes back.
    """

    def __init__(
        self, reactor: ReactorBase, cache_size: int, timeout: float, policy: AddressPolicy
    ) -> None:
        super().__init__(reactor, cache_size, timeout)
        self.policy = policy
        # host -> (address, category) of its last refused answer.
        self.refusals: dict[str, tuple[str, str]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: ReactorBase) -> Self:
        settings = crawler.settings
        return cls(
            reactor,
            settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0,
            settings.getfloat("DNS_TIMEOUT"),
            AddressPolicy.from_settings(settings),
        )

    def lookup(self, name: str) -> Deferred[str]:
        """The cached, unchecked answer: the middleware checks it and says why it refuses."""
        return super().getHostByName(name)

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:
        return self.lookup(name).addCallback(self._check, name)

    def _check(self, address: str, name: str) -> str:
        category = self.policy.refusal(ipaddress.ip_address(address))
        key = name.lower()
        if category is None:
            self.refusals.pop(key, None)
            return address
        self.refusals[key] = (address, category)
        # Also where a proxy (http_proxy, https_proxy) on a private address ends up.
        logger.warning(
            "Refused to connect to %s: it resolves to %s, %s (address policy); if it is "
            "your proxy or an intranet host, add it to [crawl] allow_addresses",
            name,
            address,
            DESCRIPTIONS[category],
        )
        raise AddressRefused(name, address, category)


def _resolver() -> Any:
    from twisted.internet import reactor

    return reactor.resolver  # type: ignore[attr-defined]


class AddressPolicyMiddleware:
    """Refuse requests for non-http(s) schemes and for addresses the policy blocks."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.policy = AddressPolicy.from_settings(crawler.settings)
        # A replay answers from WARC files: nothing to connect to, nothing to look up.
        self.replay = bool(crawler.settings.getlist("PRESSWATCH_REPLAY"))
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def spider_opened(self) -> None:
        allowed = ", ".join(str(n) for n in self.policy.allow) or "none"
        logger.info("Address policy: public http(s) addresses only; allowed besides: %s", allowed)
        if not self.replay and not isinstance(_resolver(), PolicyResolver):
            logger.warning(
                "Address policy: the installed DNS resolver is %s, not %s, so addresses are "
                "checked before each request but not again when connecting (DNS rebinding).",
                type(_resolver()).__name__,
                PolicyResolver.__name__,
            )

    async def process_request(self, request: Request) -> None:
        parts = urlparse_cached(request)
        if parts.scheme not in ALLOWED_SCHEMES:
            self._refuse(request, "scheme", f"scheme {parts.scheme!r} is not http or https")
        host = parts.hostname
        if self.replay or not host:
            return
        address = parse_ip(host)
        named = address is None
        if address is None:
            address = await self._resolve(host)
        category = self.policy.refusal(address)
        if category is None:
            return
        what = DESCRIPTIONS[category]
        # ::ffff:127.0.0.1 connects to 127.0.0.1: say so.
        shown = getattr(address, "ipv4_mapped", None) or address
        if named:
            reason = f"{host} resolves to {shown}, {what}"
        elif host != str(shown):
            reason = f"{host} is {shown}, {what}"
        else:
            reason = f"{shown} is {what}"
        self._refuse(request, category, reason)

    def process_exception(self, request: Request, exception: Exception) -> None:
        """A download that failed because PolicyResolver refused the address at connect time."""
        if not isinstance(exception, CannotResolveHostError):
            return
        resolver = _resolver()
        host = urlparse_cached(request).hostname
        if not isinstance(resolver, PolicyResolver) or not host:
            return
        refused = resolver.refusals.pop(host.lower(), None)
        if refused is None:
            return  # a name that does not resolve: an ordinary download error
        address, category = refused
        self.crawler.stats.inc_value("netpolicy/refused_at_connect")
        self._refuse(
            request,
            category,
            f"{host} resolved to {address}, {DESCRIPTIONS[category]}, when connecting "
            "(a different answer than when checked: DNS rebinding?)",
        )

    async def _resolve(self, host: str) -> IPAddress:
        from twisted.internet import reactor

        resolver = _resolver()
        # The unchecked answer from PolicyResolver: the refusal is logged here, with the URL.
        # Its cache then hands the connection this same answer.
        lookup = resolver.lookup if isinstance(resolver, PolicyResolver) else reactor.resolve
        try:
            answer = await maybe_deferred_to_future(lookup(host))
        except DNSLookupError as exc:
            # What the download handler would raise: retried, counted, logged as usual.
            raise CannotResolveHostError(str(exc)) from exc
        return ipaddress.ip_address(answer)

    def _refuse(self, request: Request, category: str, reason: str) -> NoReturn:
        self.crawler.stats.inc_value(f"netpolicy/refused/{category}")
        hops = request.meta.get("redirect_urls")
        via = f" (redirected from {hops[-1]})" if hops else ""
        hint = (
            ""
            if category == "scheme"
            else "; to crawl it, add the address to [crawl] allow_addresses in presswatch.toml"
        )
        logger.warning("Refused %s%s: %s%s", request.url, via, reason, hint)
        raise IgnoreRequest(f"address policy: {reason}")
