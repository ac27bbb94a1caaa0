"""Property tests: any input to the parsers gives a value or a typed error, never a crash."""

from __future__ import annotations

import math

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

import xai_models_async as xm
from xai_models_async._endpoints import ENDPOINTS
from xai_models_async._wire import (
    decode,
    encode_id,
    parse_error_body,
    parse_retry_after,
    status_error,
)

header_values = st.one_of(
    st.text(max_size=40),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.datetimes().map(lambda d: d.strftime("%a, %d %b %Y %H:%M:%S GMT")),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300)
@given(ms=st.none() | header_values, secs=st.none() | header_values,
       now=st.floats(min_value=0, max_value=4e9))
def test_parse_retry_after_total(ms: str | None, secs: str | None, now: float) -> None:
    headers = {}
    if ms is not None:
        headers["retry-after-ms"] = ms
    if secs is not None:
        headers["Retry-After"] = secs
    got = parse_retry_after(headers, now)
    if got is not None:
        assert isinstance(got, float)
        assert got >= 0
        assert math.isfinite(got)


@settings(max_examples=300)
@given(body=st.binary(max_size=200), status=st.integers(100, 599),
       reason=st.none() | st.text(max_size=20))
def test_parse_error_body_total_on_bytes(body: bytes, status: int, reason: str | None) -> None:
    parsed = parse_error_body(body, status, reason)
    assert isinstance(parsed.message, str)
    assert parsed.message
    assert parsed.code is None or isinstance(parsed.code, (str, int))


@settings(max_examples=300)
@given(value=json_values, status=st.integers(400, 599))
def test_error_bodies_from_any_json(value: object, status: int) -> None:
    body = msgspec.json.encode(value)
    err = status_error(status, None, {}, body, path="/v1/models", attempt=1, now=0.0)
    assert isinstance(err, xm.APIStatusError)
    assert err.status_code == status
    assert str(err)  # renders


@settings(max_examples=200)
@given(value=json_values)
def test_any_2xx_body_decodes_or_raises_validation_error(value: object) -> None:
    body = msgspec.json.encode(value)
    endpoint = ENDPOINTS["language_models"]
    try:
        decode(endpoint.decode_list, body, path="/v1/language-models", attempts=1,
               request_id=None, status=200)
    except xm.APIResponseValidationError as exc:
        message = str(exc)
    else:
        message = "GET /v1/language-models: decoded"
    assert message.startswith("GET /v1/language-models")


@settings(max_examples=300)
@given(model_id=st.text(min_size=1, max_size=30))
def test_encoded_ids_are_one_safe_segment(model_id: str) -> None:
    if model_id.isspace():
        return
    segment = encode_id(model_id)
    assert "/" not in segment
    assert "?" not in segment
    assert "#" not in segment
    assert segment not in (".", "..")
    assert segment.isascii()
