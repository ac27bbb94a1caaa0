"""Retry decisions and backoff are pure functions: tested as tables, no clock, no sleep."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from email.utils import format_datetime

import pytest

import xai_models_async as xm
from xai_models_async._retry import backoff, decide, is_retryable
from xai_models_async._wire import parse_retry_after

NOW = 1_700_000_000.0


def status(code: int, message: str = "x", retry_after: float | None = None) -> xm.APIStatusError:
    from xai_models_async._errors import status_error_class

    cls = status_error_class(code, message)
    return cls(message, status_code=code, retry_after=retry_after, method="GET", path="/p")


def conn(retryable: bool = True) -> xm.APIConnectionError:
    return xm.APIConnectionError("reset", retryable=retryable, method="GET", path="/p")


def timeout() -> xm.APITimeoutError:
    return xm.APITimeoutError("slow", method="GET", path="/p")


POLICY = xm.RetryPolicy(jitter=0.0)


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (status(408), True),
        (status(409), True),
        (status(429), True),
        (status(500), True),
        (status(502), True),
        (status(503), True),
        (status(504), True),
        (status(529), True),
        (status(400), False),
        (status(400, "Incorrect API key provided"), False),
        (status(401), False),
        (status(403), False),
        (status(404), False),
        (status(422), False),
        (status(501), False),
        (status(429, "Your team has exhausted its credits"), False),
        (status(429, "spending limit reached"), False),
        (conn(), True),
        (timeout(), True),
        (conn(retryable=False), False),  # TLS, invalid URL
        (xm.APIResponseValidationError("bad body", method="GET", path="/p"), False),
        (xm.XAIError("misuse"), False),
        (ValueError("not ours"), False),
    ],
)
def test_what_is_retried(error: BaseException, retry: bool) -> None:
    assert is_retryable(POLICY, error) is retry
    decision = decide(POLICY, error, attempt=1, elapsed=0.0, rand=0.0)
    assert (decision.delay is not None) is retry


@pytest.mark.parametrize(
    ("policy", "retry_number", "rand", "expected"),
    [
        (xm.RetryPolicy(jitter=0), 1, 0.0, 0.5),
        (xm.RetryPolicy(jitter=0), 2, 0.0, 1.0),
        (xm.RetryPolicy(jitter=0), 3, 0.0, 2.0),
        (xm.RetryPolicy(jitter=0), 5, 0.0, 8.0),
        (xm.RetryPolicy(jitter=0), 50, 0.0, 8.0),   # capped at max_delay
        (xm.RetryPolicy(jitter=0), 5000, 0.0, 8.0),  # no overflow
        (xm.RetryPolicy(), 1, 0.0, 0.5),            # jitter only ever shortens
        (xm.RetryPolicy(), 1, 0.999999, 0.25),
        (xm.RetryPolicy(jitter=1.0), 3, 0.5, 1.0),
        (xm.RetryPolicy(initial_delay=0, max_delay=0), 3, 0.3, 0.0),
    ],
)
def test_backoff(policy: xm.RetryPolicy, retry_number: int, rand: float,
                 expected: float) -> None:
    assert backoff(policy, retry_number, rand) == pytest.approx(expected, abs=1e-5)


def test_retries_run_out() -> None:
    policy = xm.RetryPolicy(max_retries=2, jitter=0)
    assert decide(policy, status(503), attempt=1, elapsed=0, rand=0).delay == 0.5
    assert decide(policy, status(503), attempt=2, elapsed=0, rand=0).delay == 1.0
    assert decide(policy, status(503), attempt=3, elapsed=0, rand=0).delay is None
    assert decide(xm.RetryPolicy.none(), status(503), attempt=1, elapsed=0, rand=0).delay is None


@pytest.mark.parametrize(
    ("retry_after", "delay"),
    [
        (0.0, 0.0),
        (2.5, 2.5),        # replaces the computed backoff
        (60.0, 60.0),      # at the cap: honoured
        (60.5, None),      # over the cap: give up at once
        (3600.0, None),
    ],
)
def test_retry_after_replaces_backoff_up_to_the_cap(retry_after: float,
                                                     delay: float | None) -> None:
    decision = decide(POLICY, status(429, retry_after=retry_after), attempt=1, elapsed=0,
                      rand=0.7)
    assert decision.delay == delay
    if delay is None:
        assert "max_retry_after" in decision.reason


@pytest.mark.parametrize(
    ("elapsed", "delay"),
    [(0.0, 0.5), (9.0, 0.5), (9.5, None), (12.0, None)],
)
def test_deadline(elapsed: float, delay: float | None) -> None:
    policy = xm.RetryPolicy(jitter=0, deadline=10.0)
    assert decide(policy, status(503), attempt=1, elapsed=elapsed, rand=0).delay == delay


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"Retry-After": "5"}, 5.0),
        ({"Retry-After": " 1.5 "}, 1.5),
        ({"retry-after": "0"}, 0.0),
        ({"Retry-After": "-3"}, None),
        ({"Retry-After": "nan"}, None),
        ({"Retry-After": "inf"}, None),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": ""}, None),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),   # ms wins
        ({"retry-after-ms": "junk", "Retry-After": "9"}, 9.0),   # falls back
        ({"Retry-After": format_datetime(datetime.fromtimestamp(NOW + 30, timezone.utc),
                                         usegmt=True)}, 30.0),
        ({"Retry-After": format_datetime(datetime.fromtimestamp(NOW - 30, timezone.utc),
                                         usegmt=True)}, 0.0),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
        ({"Retry-After": "Wed, 99 Foo 2015 07:28:00 GMT"}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    got = parse_retry_after(headers, NOW)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=1e-6)


def test_policy_defaults_are_documented_values() -> None:
    policy = xm.RetryPolicy()
    assert (policy.max_retries, policy.initial_delay, policy.max_delay) == (2, 0.5, 8.0)
    assert policy.max_retry_after == 60.0
    assert policy.deadline is None
    assert policy.retry_statuses == frozenset({408, 409, 429, 500, 502, 503, 504, 529})


def test_policy_is_frozen_and_hashable() -> None:
    policy = xm.RetryPolicy()
    with pytest.raises(AttributeError):
        policy.max_retries = 5  # type: ignore[misc]
    assert hash(policy) == hash(xm.RetryPolicy())
    assert not hasattr(policy, "__dict__")  # slotted


def test_retry_statuses_accepts_any_iterable() -> None:
    assert xm.RetryPolicy(retry_statuses=[503]).retry_statuses == frozenset({503})


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"max_retries": -1}, ValueError),
        ({"max_retries": 1.5}, TypeError),
        ({"max_retries": True}, TypeError),
        ({"initial_delay": -0.1}, ValueError),
        ({"initial_delay": math.nan}, ValueError),
        ({"max_delay": math.inf}, ValueError),
        ({"initial_delay": 10**400}, ValueError),  # too large for a float: not OverflowError
        ({"initial_delay": 2.0, "max_delay": 1.0}, ValueError),
        ({"jitter": 1.5}, ValueError),
        ({"jitter": "a"}, TypeError),
        ({"max_retry_after": -1}, ValueError),
        ({"deadline": 0}, ValueError),
        ({"deadline": -5}, ValueError),
        ({"retry_statuses": [99]}, ValueError),
        ({"retry_statuses": "503"}, TypeError),
        ({"retry_statuses": [True]}, ValueError),
    ],
)
def test_policy_is_validated_at_construction(kwargs: dict[str, object],
                                             exc: type[Exception]) -> None:
    with pytest.raises(exc):
        xm.RetryPolicy(**kwargs)  # type: ignore[arg-type]
