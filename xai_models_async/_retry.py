"""Retry policy and the pure functions that decide whether and how long to wait.

Nothing here does I/O or reads the clock: :func:`decide` takes the error, the attempt
number, the elapsed time, "now" and a random number, so every decision is testable with a
table. The loop that sleeps lives in ``_pipeline``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from xai_models_async._config import check_seconds
from xai_models_async._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    is_credit_exhaustion,
)

__all__ = ["RetryPolicy"]

# xAI's own TypeScript SDK retries these on GET; 529 means "overloaded".
DEFAULT_RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How failed requests are retried. Frozen, and validated when built.

    All eight endpoints are idempotent GETs, so what is retried is decided by the failure:
    the statuses in ``retry_statuses`` (408, 409, 429, 500, 502, 503, 504, 529), refused or
    reset connections, servers that hang up, truncated bodies and per-attempt timeouts.
    Never retried: other 4xx, TLS/certificate errors, invalid URLs, a 2xx body that does not
    fit, cancellation, and a 429 that says the credits or spending limit are exhausted.

    Defaults:

    ``max_retries=2``
        retries after the first attempt (so at most 3 attempts); ``0`` turns retries off.
    ``initial_delay=0.5``, ``max_delay=8.0``
        seconds; the n-th retry waits ``min(max_delay, initial_delay * 2**(n-1))``...
    ``jitter=0.5``
        ...less a random share of up to this fraction, so clients that failed together do
        not retry together (``0`` makes backoff exact).
    ``max_retry_after=60.0``
        a server's ``Retry-After``/``retry-after-ms`` replaces the computed backoff up to
        this many seconds; a longer requested wait fails at once, with the wait in the error
        (``APIStatusError.retry_after``), instead of sleeping for hours.
    ``deadline=None``
        optional cap in seconds on the whole call (attempts and sleeps); no retry is begun
        that would end past it, and the last attempt's timeout is shortened to fit.
    """

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.5
    max_retry_after: float = 60.0
    deadline: float | None = None
    retry_statuses: frozenset[int] = field(default=DEFAULT_RETRY_STATUSES)

    def __post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise TypeError(f"max_retries must be an int, got {self.max_retries!r}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        for name in ("initial_delay", "max_delay", "max_retry_after"):
            check_seconds(getattr(self, name), name)
        if self.max_delay < self.initial_delay:
            raise ValueError(
                f"max_delay ({self.max_delay}) must be >= initial_delay ({self.initial_delay})"
            )
        _check_number("jitter", self.jitter)
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be between 0 and 1, got {self.jitter}")
        if self.deadline is not None:
            check_seconds(self.deadline, "deadline")
            if self.deadline == 0:
                raise ValueError("deadline must be > 0 (or None for no deadline)")
        statuses = self.retry_statuses
        if not isinstance(statuses, frozenset):
            if isinstance(statuses, (str, bytes)) or not hasattr(statuses, "__iter__"):
                raise TypeError("retry_statuses must be a set of HTTP status codes")
            statuses = frozenset(statuses)
            object.__setattr__(self, "retry_statuses", statuses)
        for status in statuses:
            if isinstance(status, bool) or not isinstance(status, int) or not (
                100 <= status <= 599
            ):
                raise ValueError(f"retry_statuses holds {status!r}, not an HTTP status code")

    @classmethod
    def none(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_retries=0)


def _check_number(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {value!r}")
    if math.isnan(value):
        raise ValueError(f"{name} must not be NaN")


def backoff(policy: RetryPolicy, retry_number: int, rand: float) -> float:
    """Seconds before retry number ``retry_number`` (1-based), with ``rand`` in [0, 1)."""
    exponent = min(retry_number - 1, 62)  # 2**62 s is forever; avoid float overflow
    delay = min(policy.max_delay, policy.initial_delay * (2.0**exponent))
    return delay * (1.0 - policy.jitter * rand)


def is_retryable(policy: RetryPolicy, error: BaseException) -> bool:
    """Is this failure worth another attempt, whatever the budget?"""
    if isinstance(error, APIStatusError):
        if error.status_code not in policy.retry_statuses:
            return False
        return not (error.status_code == 429 and is_credit_exhaustion(error.message, error.code))
    if isinstance(error, APIConnectionError):
        return error.retryable
    return False


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of :func:`decide`: ``delay`` seconds to sleep before the next attempt,
    or ``delay is None`` to give up, with ``reason`` saying why (for logs)."""

    delay: float | None
    reason: str


def decide(
    policy: RetryPolicy,
    error: BaseException,
    *,
    attempt: int,
    elapsed: float,
    rand: float,
) -> Decision:
    """Retry after ``attempt`` (1-based) failed with ``error``, ``elapsed`` seconds into the
    call? Pure: same inputs, same answer."""
    if not isinstance(error, APIError) or not is_retryable(policy, error):
        return Decision(None, "not retryable")
    if attempt > policy.max_retries:
        return Decision(None, f"no retries left (max_retries={policy.max_retries})")
    server_wait = error.retry_after if isinstance(error, APIStatusError) else None
    if server_wait is not None:
        if server_wait > policy.max_retry_after:
            return Decision(
                None,
                f"server asked to wait {server_wait:g} s, over max_retry_after="
                f"{policy.max_retry_after:g} s",
            )
        delay = server_wait
        source = "Retry-After"
    else:
        delay = backoff(policy, attempt, rand)
        source = "backoff"
    if policy.deadline is not None and elapsed + delay >= policy.deadline:
        return Decision(None, f"deadline of {policy.deadline:g} s would pass")
    return Decision(delay, f"{_describe(error)}; delay from {source}")


def deadline_passed(
    deadline: float, path: str, attempts: int, last_error: APIError | None
) -> APITimeoutError:
    """The error of a call whose retry deadline passed before its next attempt."""
    return APITimeoutError(
        f"the retry deadline of {deadline:g} s has passed"
        + (f"; last failure: {last_error}" if last_error else ""),
        method="GET", path=path, attempts=attempts,
    )


def _describe(error: APIError) -> str:
    if isinstance(error, APIStatusError):
        return f"HTTP {error.status_code}"
    return type(error).__name__ + (f" ({error.message})" if error.message else "")
