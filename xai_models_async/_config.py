"""The client's settings, checked once when the client is built: pure functions that
return a normalised value or raise ``TypeError``/``ValueError``/``XAIError`` saying what is
wrong (never echoing a secret)."""

from __future__ import annotations

import ipaddress
import math
import os
import sys
import warnings
from collections.abc import Mapping

import aiohttp
from yarl import URL

from xai_models_async._errors import XAIError
from xai_models_async._version import __version__

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TIMEOUT",
    "USER_AGENT",
    "build_headers",
    "check_api_key",
    "check_base_url",
    "check_count",
    "check_seconds",
    "check_timeout",
    "check_ttl",
    "with_total",
    "without_total",
]

DEFAULT_BASE_URL = "https://api.x.ai"
#: Seconds one attempt may take, connection and body included. Listing calls answer in well
#: under a second; 20 s rides out a slow moment without letting a call hang for minutes.
DEFAULT_TIMEOUT = 20.0
#: The largest response body read (decompressed). xAI's whole catalog is tens of KB; a
#: 2,000-model list is about 0.9 MB. 8 MiB leaves room to grow and stops a runaway (or
#: hostile) body long before it costs real memory.
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024

USER_AGENT = (
    f"xai-models-async/{__version__} aiohttp/{aiohttp.__version__} "
    f"python/{sys.version_info.major}.{sys.version_info.minor}"
)


def check_api_key(api_key: str | None) -> str:
    source = "api_key"
    if api_key is None:
        api_key = os.environ.get("XAI_API_KEY")
        source = "XAI_API_KEY"
    if api_key is not None and not isinstance(api_key, str):
        raise TypeError(f"api_key must be a str, got {type(api_key).__name__}")
    if api_key is None or not api_key.strip():
        raise XAIError(
            "no API key: pass AsyncClient(api_key=...) or set the XAI_API_KEY environment "
            "variable (create a key at https://console.x.ai)"
        )
    key = api_key.strip()
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in key) or not key.isascii():
        # Never echo the key: only say what is wrong with it.
        raise XAIError(f"the API key from {source} contains spaces or control characters")
    return key


def check_base_url(base_url: str | URL | None) -> URL:
    source = "base_url"
    if base_url is None:
        env = os.environ.get("XAI_BASE_URL")
        if env:
            base_url, source = env, "XAI_BASE_URL"
        else:
            base_url = DEFAULT_BASE_URL
    try:
        url = URL(str(base_url).strip())
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{source} is not a valid URL: {base_url!r} ({exc})") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(
            f"{source} must be an http(s) URL with a host, like {DEFAULT_BASE_URL!r}; "
            f"got {str(base_url)!r}"
        )
    if url.user is not None or url.password is not None:
        # Never echo it: the part before "@" may be a password.
        raise ValueError(f"{source} must not carry a user name or password; pass the key "
                         "as api_key")
    if url.query_string or url.fragment:
        raise ValueError(f"{source} must not carry a query or fragment: {str(base_url)!r}")
    if url.scheme == "http" and not _is_loopback(url.host):
        warnings.warn(
            f"{source} uses plain http to {url.host}: the API key will cross the network "
            "unencrypted (use https)",
            UserWarning,
            stacklevel=3,  # check_base_url <- AsyncClient.__init__ <- the caller
        )
    path = url.raw_path.rstrip("/")
    if path.endswith("/v1"):  # xAI's OpenAI-compatible docs write https://api.x.ai/v1
        path = path[: -len("/v1")]
    return url.with_path(path or "/", encoded=True)


def _is_loopback(host: str | None) -> bool:
    if host in (None, "localhost") or (host or "").endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def check_timeout(timeout: object, name: str) -> aiohttp.ClientTimeout:
    if isinstance(timeout, aiohttp.ClientTimeout):
        for field in ("total", "connect", "sock_read", "sock_connect"):
            value = getattr(timeout, field)
            # aiohttp treats 0 (and a negative number) as "no timeout": say so, not hang.
            if value is not None and (not isinstance(value, (int, float)) or value <= 0
                                      or math.isnan(value)):
                raise ValueError(f"{name}.{field} must be None or a number of seconds > 0, "
                                 f"got {value!r}")
        return timeout
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(
            f"{name} must be seconds (a number) or an aiohttp.ClientTimeout, got {timeout!r}"
        )
    return aiohttp.ClientTimeout(total=check_seconds(timeout, name, positive=True))


def build_headers(api_key: str, extra: Mapping[str, str] | None) -> dict[str, str]:
    headers = {
        "Authorization": f"Bearer {api_key}",
        "User-Agent": USER_AGENT,
        "Accept": "application/json",
    }
    if extra:
        for name, value in extra.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise TypeError("headers must map str names to str values")
            if name.lower() == "authorization":
                raise ValueError("pass the API key as api_key, not as an Authorization header")
            headers[name] = value
    return headers


def with_total(timeout: aiohttp.ClientTimeout, total: float | None) -> aiohttp.ClientTimeout:
    """``timeout`` with another ``total``."""
    return aiohttp.ClientTimeout(
        total=total, connect=timeout.connect, sock_read=timeout.sock_read,
        sock_connect=timeout.sock_connect, ceil_threshold=timeout.ceil_threshold,
    )


def without_total(timeout: aiohttp.ClientTimeout) -> aiohttp.ClientTimeout:
    """What aiohttp still enforces itself: connect and read timeouts, not ``total``, which
    the client enforces per attempt (see ``_deadlines``)."""
    return with_total(timeout, None)


def check_ttl(ttl: object, name: str = "cache_ttl") -> float | None:
    """None (off) or a finite number of seconds >= 0."""
    if ttl is None:
        return None
    return check_seconds(ttl, name)


def check_seconds(value: object, name: str, *, positive: bool = False) -> float:
    """A finite number of seconds >= 0, or > 0 if ``positive`` (``bool`` is not a number
    here). The package's one check of a duration: the client's, RetryPolicy's and
    RedisCache's settings all go through it, so they accept and say the same."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {value!r}")
    try:
        seconds = float(value)  # an int too large for a float raises OverflowError
    except OverflowError:
        seconds = math.inf
    if math.isnan(seconds) or math.isinf(seconds) or seconds < 0 or (
            positive and seconds == 0):
        bound = "> 0" if positive else ">= 0"
        shown = (repr(value) if isinstance(value, float) or seconds != math.inf
                 else "an int too large for a float")
        raise ValueError(f"{name} must be a finite number of seconds {bound}, got {shown}")
    return seconds


def check_count(value: object, name: str, minimum: int = 1) -> int:
    """An ``int`` >= ``minimum`` (``bool`` is not a count)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value
