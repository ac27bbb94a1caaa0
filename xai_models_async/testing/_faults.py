"""Fault descriptions and the rules that decide which request gets which fault."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from types import MappingProxyType
from typing import Any, Literal, TypeAlias

import msgspec

FaultKind: TypeAlias = Literal["reset", "truncate", "non_json", "disconnect"]

_KINDS: frozenset[str] = frozenset({"reset", "truncate", "non_json", "disconnect"})


@dataclass(frozen=True)
class Fault:
    """One misbehaviour the fake server plays instead of (or on top of) a normal answer.

    Build one with a convenience constructor (``Fault.error(503)``, ``Fault.slow(0.2)``,
    ``Fault.reset()``, ``Fault.truncate()``, ``Fault.non_json()``, ``Fault.disconnect()``)
    or directly, then hand it to :meth:`FakeXAIServer.inject` or
    :meth:`FakeXAIServer.inject_rate`.

    Attributes:
        status: answer with this HTTP status instead of the normal one. For ``status >= 400``
            and no ``body``, the body is a live-shaped xAI error,
            ``{"code": "...", "error": "..."}``. For a status below 400 and no ``body``, the
            normal answer's body is sent with this status (none for 204 and 304, which
            carry no body).
        body: the body to send: ``bytes`` and ``str`` as they are, a ``dict``/``list`` as
            JSON. Checked (JSON-encoded once) when the fault is built.
        headers: extra response headers, e.g. ``{"Retry-After": "2"}``. They override the
            server's own (so ``{"Content-Type": "text/plain"}`` replaces
            ``application/json``). Stored as a read-only copy.
        delay: seconds to wait before acting. With neither ``status`` nor ``kind``, that
            gives a *slow* but otherwise normal answer, for timeout tests. If the client
            gives up first, the server stops waiting too.
        kind: a transport-level failure instead of an HTTP answer:

            * ``"reset"``: abort the TCP connection (RST) before any byte of the answer;
              aiohttp raises ``ClientOSError``/``ServerDisconnectedError``.
            * ``"truncate"``: send the headers of the normal answer, including its full
              ``Content-Length``, then only half of the body, then abort; aiohttp raises
              ``ClientPayloadError`` when the body is read.
            * ``"non_json"``: ``200`` with an HTML "bad gateway" page and
              ``content-type: text/html``, as a misbehaving proxy sends.
            * ``"disconnect"``: close the connection cleanly (FIN) without answering;
              aiohttp raises ``ServerDisconnectedError``.

    aiohttp (3.14) itself retries an idempotent request once when the connection drops
    (``"reset"``, ``"disconnect"``), so inject those with ``times=2`` for the error to reach
    the caller, and expect the server to count two requests.

    ``status`` and ``kind`` exclude each other, and ``body`` goes only with ``status``.
    Invalid combinations raise ``ValueError`` at construction.
    """

    status: int | None = None
    body: bytes | str | dict[str, Any] | list[Any] | None = None
    headers: Mapping[str, str] | None = None
    _: KW_ONLY
    delay: float = 0.0
    kind: FaultKind | None = None
    # The encoded body, computed once so a bad body fails where the Fault is written.
    _encoded_body: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.status is not None:
            if isinstance(self.status, bool) or not isinstance(self.status, int):
                raise ValueError(f"Fault status must be an int, got {self.status!r}")
            if not 200 <= self.status <= 599:
                raise ValueError(f"Fault status must be within 200..599, got {self.status}")
        if self.kind is not None and self.kind not in _KINDS:
            raise ValueError(
                f"Fault kind must be one of {sorted(_KINDS)} or None, got {self.kind!r}"
            )
        if self.kind is not None and self.status is not None:
            raise ValueError("Fault takes either a status or a kind, not both")
        if self.body is not None and self.status is None:
            raise ValueError("Fault body needs a status to be sent with")
        if self.headers is not None and self.kind in ("reset", "disconnect"):
            raise ValueError(f"Fault kind {self.kind!r} sends no headers")
        if (
            isinstance(self.delay, bool)
            or not isinstance(self.delay, (int, float))
            or not math.isfinite(self.delay)
            or self.delay < 0
        ):
            raise ValueError(f"Fault delay must be a finite number >= 0, got {self.delay!r}")
        if self.headers is not None:
            headers = dict(self.headers)
            for name, value in headers.items():
                if not isinstance(name, str) or not isinstance(value, str):
                    raise ValueError(f"Fault headers must map str to str, got {name!r}: {value!r}")
            object.__setattr__(self, "headers", MappingProxyType(headers))
        if self.body is not None:
            object.__setattr__(self, "_encoded_body", _encode_body(self.body))

    @classmethod
    def error(
        cls,
        status: int,
        body: bytes | str | dict[str, Any] | list[Any] | None = None,
        retry_after: float | str | None = None,
        *,
        delay: float = 0.0,
    ) -> Fault:
        """An HTTP error answer (``status`` 400..599).

        ``body`` defaults to a live-shaped xAI error body for that status.
        ``retry_after`` sets the ``Retry-After`` header: seconds (``2``, ``0.5``) or a
        preformatted value such as an HTTP date string.
        """
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError(f"Fault.error needs an error status within 400..599, got {status!r}")
        headers = None if retry_after is None else {"Retry-After": _format_seconds(retry_after)}
        return cls(status, body, headers, delay=delay)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """A normal answer sent after ``seconds``: drives client timeouts."""
        return cls(delay=seconds)

    @classmethod
    def reset(cls, *, delay: float = 0.0) -> Fault:
        """Abort the connection (TCP RST) before sending any header."""
        return cls(kind="reset", delay=delay)

    @classmethod
    def truncate(cls, *, delay: float = 0.0) -> Fault:
        """Send the full ``Content-Length`` but only half of the body, then abort."""
        return cls(kind="truncate", delay=delay)

    @classmethod
    def non_json(cls, *, delay: float = 0.0) -> Fault:
        """``200`` with an HTML "bad gateway" page (``content-type: text/html``)."""
        return cls(kind="non_json", delay=delay)

    @classmethod
    def disconnect(cls, *, delay: float = 0.0) -> Fault:
        """Close the connection cleanly without answering."""
        return cls(kind="disconnect", delay=delay)

    @property
    def encoded_body(self) -> bytes | None:
        """The body as it goes on the wire, or ``None`` when the server picks it."""
        return self._encoded_body


def _format_seconds(value: float | str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"retry_after must be seconds >= 0 or a string, got {value!r}")
    # Integral floats print as "2", not "2.0": most clients only parse integer seconds.
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _encode_body(body: object) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    if isinstance(body, (dict, list)):
        try:
            return msgspec.json.encode(body)
        except (TypeError, msgspec.EncodeError) as exc:
            raise ValueError(f"Fault body is not JSON-encodable: {exc}") from None
    raise ValueError(f"Fault body must be bytes, str, dict or list, got {type(body).__name__}")


def _check_path(path: str | None) -> str | None:
    if path is not None and (not isinstance(path, str) or not path.startswith("/")):
        raise ValueError(f"path must be None or start with '/', got {path!r}")
    return path


def path_matches(pattern: str | None, path: str) -> bool:
    """``pattern`` matches ``path`` exactly, or as a prefix that ends at a ``/``."""
    if pattern is None or path == pattern:
        return True
    prefix = pattern if pattern.endswith("/") else pattern + "/"
    return path.startswith(prefix)


class _Rule:
    __slots__ = ("path",)

    def __init__(self, path: str | None) -> None:
        self.path = path

    def take(self, path: str) -> Fault | None:
        """The fault for this request, or ``None`` to let later rules decide."""
        raise NotImplementedError

    @property
    def exhausted(self) -> bool:
        return False


class _CountedRule(_Rule):
    __slots__ = ("fault", "remaining")

    def __init__(self, fault: Fault, path: str | None, times: int) -> None:
        super().__init__(path)
        self.fault = fault
        self.remaining = times

    def take(self, path: str) -> Fault | None:
        if self.remaining <= 0 or not path_matches(self.path, path):
            return None
        self.remaining -= 1
        return self.fault

    @property
    def exhausted(self) -> bool:
        return self.remaining <= 0


class _RateRule(_Rule):
    __slots__ = ("faults", "rate", "rng")

    def __init__(self, rate: float, faults: tuple[Fault, ...], path: str | None, seed: int) -> None:
        super().__init__(path)
        self.rate = rate
        self.faults = faults
        self.rng = random.Random(seed)

    def take(self, path: str) -> Fault | None:
        if not path_matches(self.path, path):
            return None
        # Always draw both numbers so the sequence of picks depends only on the seed and
        # the number of matching requests, not on which of them happened to fault.
        hit = self.rng.random() < self.rate
        pick = self.faults[self.rng.randrange(len(self.faults))]
        return pick if hit else None


class FaultPlan:
    """The injected rules, checked in insertion order; the first that yields a fault wins."""

    __slots__ = ("_rules",)

    def __init__(self) -> None:
        self._rules: list[_Rule] = []

    def add_counted(self, fault: Fault, path: str | None, times: int) -> None:
        if not isinstance(fault, Fault):
            raise ValueError(f"fault must be a Fault, got {type(fault).__name__}")
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError(f"times must be an int >= 1, got {times!r}")
        self._rules.append(_CountedRule(fault, _check_path(path), times))

    def add_rate(self, rate: float, faults: Sequence[Fault], path: str | None, seed: int) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be a number within 0..1, got {rate!r}")
        if isinstance(faults, Fault):
            faults = (faults,)
        picks = tuple(faults)
        if not picks:
            raise ValueError("faults must hold at least one Fault")
        for fault in picks:
            if not isinstance(fault, Fault):
                raise ValueError(f"faults must hold Fault objects, got {type(fault).__name__}")
        self._rules.append(_RateRule(float(rate), picks, _check_path(path), seed))

    def clear(self) -> None:
        self._rules.clear()

    def take(self, path: str) -> Fault | None:
        if not self._rules:
            return None
        for rule in self._rules:
            fault = rule.take(path)
            if fault is not None:
                if rule.exhausted:
                    self._rules.remove(rule)
                return fault
        return None
