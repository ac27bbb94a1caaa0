"""What goes over the wire and back, as pure functions: no I/O, no clock, no state.

Model ids into path segments (:func:`encode_id`), response bytes into Structs
(:func:`decode`), error bodies and statuses into typed errors (:func:`parse_error_body`,
:func:`status_error`), ``Retry-After`` into seconds (:func:`parse_retry_after`), and
secrets out of text (:func:`mask_secrets`, :func:`mask_key`). Everything here is tested
with tables; the modules that do I/O call it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import quote, unquote

import msgspec

from xai_models_async._errors import (
    APIError,
    APIResponseValidationError,
    APIStatusError,
    status_error_class,
)

__all__ = [
    "ErrorBody",
    "decode",
    "encode_id",
    "mask_key",
    "mask_secrets",
    "parse_error_body",
    "parse_retry_after",
    "scrub",
    "status_error",
]

T = TypeVar("T")

# -- model ids ------------------------------------------------------------------------------

# RFC 3986 unreserved characters: what quote() would leave as is.
_PLAIN_ID = re.compile(r"[A-Za-z0-9._~-]+").fullmatch


def encode_id(model_id: object) -> str:
    """Percent-encode a model id as exactly one path segment.

    ``/``, ``?``, ``#``, ``%``, spaces and non-ASCII are escaped; ``.`` and ``..`` are
    escaped too, since a client or proxy would otherwise resolve them as "this/parent
    folder" and ask for another endpoint.
    """
    if not isinstance(model_id, str):
        raise TypeError(f"model_id must be a str, got {type(model_id).__name__}")
    if _PLAIN_ID(model_id) and model_id not in (".", ".."):
        return model_id  # nothing to escape (ids like "grok-3" and "grok-4-0709")
    if not model_id or model_id.isspace():
        raise ValueError("model_id must be a non-empty string")
    if model_id in (".", ".."):
        return model_id.replace(".", "%2E")
    try:
        return quote(model_id, safe="")
    except UnicodeEncodeError:  # a lone surrogate such as "\ud800"
        raise ValueError("model_id is not valid Unicode text") from None


# -- 2xx bodies -----------------------------------------------------------------------------


def decode(decoder: Callable[[bytes], T], body: bytes, *, path: str, attempts: int,
           request_id: str | None, status: int) -> T:
    """Bytes into the Struct (``decoder`` is a Decoder's ``decode``, or a function around
    it), or an ``APIResponseValidationError`` that says where."""
    try:
        return decoder(body)
    except msgspec.ValidationError as exc:  # a subclass of DecodeError: catch it first
        problem = f"the response does not fit the expected type: {exc}"
    except (msgspec.DecodeError, RecursionError) as exc:  # RecursionError: absurd nesting
        snippet = mask_secrets(body[:80].decode("utf-8", "replace"))
        problem = f"the response is not valid JSON ({exc}); it starts with {snippet!r}"
    raise APIResponseValidationError(
        problem, body=body[:2048], status_code=status, method="GET", path=path,
        attempts=attempts, request_id=request_id,
    )


# -- error bodies ---------------------------------------------------------------------------

_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_MAX_MESSAGE = 500


class ErrorBody(msgspec.Struct, frozen=True):
    """What :func:`parse_error_body` found: a message (never empty), the code if any, and the
    parsed JSON (or the text) for ``APIStatusError.body``."""

    message: str
    code: str | int | None
    parsed: object


def parse_error_body(body: bytes, status: int, reason: str | None = None) -> ErrorBody:
    """Read either xAI error shape, or anything else a server or proxy sends.

    ``{"code": "...", "error": "message"}`` and ``{"error": {"message", "type", "code"}}``
    are understood; a URL-encoded message is decoded; an HTML page is reduced to its text;
    an empty body falls back to the HTTP reason. Never raises.
    """
    parsed: object = None
    message: str | None = None
    code: str | int | None = None
    text = body.decode("utf-8", "replace").strip() if body else ""
    if text:
        try:
            parsed = _decode_json(body, text)
        except (msgspec.DecodeError, RecursionError):  # msgspec: ~1,000 levels deep
            parsed = text
            message = text  # not JSON: HTML from a proxy, plain text, a cut-off body
        else:
            if isinstance(parsed, dict):
                message, code = _from_mapping(parsed)
            elif isinstance(parsed, str) and parsed:
                message = parsed
    if message:
        message = _clean(message)
    if not message:
        reason_text = reason or "no reason given"
        message = f"HTTP {status} {reason_text} (empty or unreadable error body)"
    return ErrorBody(message=message, code=code, parsed=parsed if parsed is not None else text)


def status_error(
    status: int,
    reason: str | None,
    headers: Mapping[str, str],
    body: bytes,
    *,
    path: str,
    attempt: int,
    now: float,
) -> APIStatusError:
    """The typed error for a non-2xx answer, with the server's message and code; ``now``
    (a Unix time) reads a ``Retry-After`` date."""
    parsed = parse_error_body(body, status, reason)
    cls = status_error_class(status, parsed.message)
    return cls(
        parsed.message,
        status_code=status,
        code=parsed.code,
        headers=headers,
        body=parsed.parsed,
        retry_after=parse_retry_after(headers, now),
        method="GET",
        path=path,
        attempts=attempt,
        request_id=headers.get("x-request-id"),
    )


def _decode_json(body: bytes, text: str) -> object:
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError:
        # One invalid UTF-8 byte should not cost the parsed message: retry on the text
        # with the bad bytes replaced (the same text, when it was not JSON at all).
        return msgspec.json.decode(text.encode())


def _from_mapping(obj: dict[Any, Any]) -> tuple[str | None, str | int | None]:
    err = obj.get("error")
    code = _as_code(obj.get("code"))
    message: str | None = None
    if isinstance(err, dict):
        message = _as_text(err.get("message"))
        if code is None:
            code = _as_code(err.get("code"))
        if code is None:
            code = _as_code(err.get("type"))
    elif err is not None:
        message = _as_text(err)
    if message is None:
        message = _as_text(obj.get("message")) or _as_text(obj.get("detail"))
    if message is None and isinstance(code, str):
        message = code
    return message, code


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, (int, float, bool)):
        return str(value)
    try:
        return msgspec.json.encode(value).decode()
    except (TypeError, msgspec.EncodeError):
        return None


def _as_code(value: object) -> str | int | None:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (str, int)):
        return value if value != "" else None
    return None


def _clean(message: str) -> str:
    if _PERCENT_ESCAPE.search(message):
        # xAI has sent messages URL-encoded ("Incorrect%20API%20key"); a bare "100%" has no
        # escape and is left alone.
        message = unquote(message)
    if "<" in message and ">" in message:
        message = _TAGS.sub(" ", message)
    message = _SPACE.sub(" ", message).strip()
    message = mask_secrets(message)
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 1] + "…"
    return message


# -- Retry-After ----------------------------------------------------------------------------


def parse_retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """The wait a server asks for, in seconds, or None.

    ``retry-after-ms`` (milliseconds, as OpenAI-style servers send) wins over
    ``Retry-After``, which may be seconds (a float is accepted) or an HTTP date, read
    against ``now`` (a Unix time). A date in the past means 0. Garbage, negative, NaN or
    infinite values mean None. Never raises.
    """
    raw_ms = _header(headers, "retry-after-ms")
    if raw_ms is not None:
        ms = _parse_seconds(raw_ms)
        if ms is not None:
            return ms / 1000.0
    raw = _header(headers, "retry-after")
    if raw is None:
        return None
    seconds = _parse_seconds(raw)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:  # pragma: no cover - older Pythons returned None for garbage
        return None
    if when.tzinfo is None:  # an HTTP-date is GMT; the asctime form just does not say so
        when = when.replace(tzinfo=timezone.utc)
    try:
        delta = when.timestamp() - now
    except (OverflowError, OSError, ValueError):
        return None
    return max(0.0, delta)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        # Mappings that are not case-insensitive (plain dicts in tests, user code).
        for key, candidate in headers.items():
            if key.lower() == name:
                return candidate
    return value


def _parse_seconds(raw: str) -> float | None:
    text = raw.strip()
    if not text or len(text) > 32:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    if math.isnan(value) or math.isinf(value) or value < 0:
        return None
    return value


# -- secrets --------------------------------------------------------------------------------

_SECRET = re.compile(r"xai-[A-Za-z0-9_\-]{6,}")
# Shorter keys are words as often as secrets ("test", "k"): masked only as whole tokens.
_SHORT_KEY = 8
# What a key or an id may be made of: a short key is a whole token only when neither
# neighbour is one of these ("test" in "test-grok-model" is not the key). A dot joins
# tokens ("grok-2.5") but also ends sentences, so only a dot before more token counts.
_TOKEN = "A-Za-z0-9_\\-~+/="
_BEFORE = f"(?<![{_TOKEN}.])"
_AFTER = f"(?![{_TOKEN}]|\\.[{_TOKEN}])"


def mask_secrets(text: str) -> str:
    """Replace anything that looks like an xAI API key with a masked form."""
    return _SECRET.sub(lambda m: m.group(0)[:6] + "***", text)


def mask_key(text: str, key: str) -> str:
    """``text`` with ``key`` masked where it can be the credential: anywhere for a key of
    8 characters or more, only as a whole token for a shorter one (so the key ``"k"`` does
    not turn "unknown" into "un***nown")."""
    if not key or key not in text:
        return text
    if len(key) >= _SHORT_KEY:
        return text.replace(key, "***")
    return re.sub(f"{_BEFORE}{re.escape(key)}{_AFTER}", "***", text)


def scrub(error: APIError, key: str) -> None:
    """Mask ``key`` wherever a server echoed it into ``error`` (its message and body), by
    the rules of :func:`mask_key`. Bodies that are JSON are masked value by value."""
    message = mask_key(error.message, key)
    if message != error.message:
        error.message = message
        error.args = (message,)
    body = getattr(error, "body", None)
    if isinstance(body, bytes):
        text = body.decode("utf-8", "replace")
        masked = mask_key(text, key)
        if masked != text:
            error.body = masked.encode()  # type: ignore[attr-defined]
    elif isinstance(body, (str, dict, list)):
        cleaned = _mask_json(body, key)
        if cleaned is not body:
            error.body = cleaned  # type: ignore[attr-defined]


def _mask_json(value: Any, key: str, depth: int = 0) -> Any:
    """``value`` with every string in it masked; the same object when nothing needs it.
    Past 64 levels (servers nest absurdly) a part holding the key becomes a placeholder."""
    if isinstance(value, str):
        return mask_key(value, key)
    if not isinstance(value, (list, dict)) or not _holds(value, key):
        return value
    if depth >= 64:
        return "*** (nested too deep to mask)"
    if isinstance(value, dict):
        return {k: _mask_json(v, key, depth + 1) for k, v in value.items()}
    return [_mask_json(v, key, depth + 1) for v in value]


def _holds(value: Any, key: str) -> bool:
    """Whether a string anywhere in ``value`` would be masked (no recursion)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str) and mask_key(item, key) != item:
            return True
        if isinstance(item, (list, dict)):
            stack.extend(item.values() if isinstance(item, dict) else item)
    return False

