"""Error bodies of every shape become typed errors with a message a person can act on."""

from __future__ import annotations

import pytest

import xai_models_async as xm
from xai_models_async._errors import status_error_class
from xai_models_async._wire import parse_error_body, status_error

WRONG_KEY = (
    b'{"code":"Client specified an invalid argument","error":"Incorrect API key provided: '
    b'xa***yz. You can obtain an API key from https://console.x.ai."}'
)
NOT_FOUND = (
    b'{"code":"Some requested entity was not found","error":"The model grok-x does not exist '
    b'or your team abc does not have access to it."}'
)


@pytest.mark.parametrize(
    ("body", "message", "code"),
    [
        (NOT_FOUND, "The model grok-x does not exist or your team abc does not have access "
                    "to it.", "Some requested entity was not found"),
        (b'{"error":{"message":"Rate limit reached","type":"rate_limit","code":"rate-limit",'
         b'"param":null}}', "Rate limit reached", "rate-limit"),
        (b'{"error":{"message":"boom","type":"server_error","code":529}}', "boom", 529),
        (b'{"error":{"message":"no code here","type":"invalid_request_error"}}',
         "no code here", "invalid_request_error"),
        (b'{"code":"x","error":"Incorrect%20API%20key%20provided%3A%20xa***yz"}',
         "Incorrect API key provided: xa***yz", "x"),
        (b'{"error":"100% sure"}', "100% sure", None),
        (b'{"message":"plain message"}', "plain message", None),
        (b'{"detail":"fastapi style"}', "fastapi style", None),
        (b'{"code":"only-a-code"}', "only-a-code", "only-a-code"),
        (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "502 Bad Gateway", None),
        (b"upstream connect error", "upstream connect error", None),
        (b'{"error": {"message": "trunc', '{"error": {"message": "trunc', None),
        (b'"just a string"', "just a string", None),
        (b'{"error": true}', "True", None),
        (b'{"code": 7, "error": null}', None, 7),
    ],
)
def test_parse_error_body(body: bytes, message: str | None, code: object) -> None:
    parsed = parse_error_body(body, 418, "I'm a teapot")
    if message is not None:
        assert parsed.message == message
    else:
        assert "418" in parsed.message
    assert parsed.code == code


@pytest.mark.parametrize("body", [b"", b"   ", b"[]", b"null", b"{}"])
def test_unreadable_bodies_fall_back_to_the_status(body: bytes) -> None:
    parsed = parse_error_body(body, 503, "Service Unavailable")
    assert "503" in parsed.message
    assert "Service Unavailable" in parsed.message


def test_long_messages_are_cut_and_keys_masked() -> None:
    body = b'{"error":"bad key xai-abcdefghijklmnopqrstuvwxyz ' + b"x" * 2000 + b'"}'
    parsed = parse_error_body(body, 400, None)
    assert "abcdefghijklmnop" not in parsed.message
    assert len(parsed.message) <= 500


@pytest.mark.parametrize(
    ("status", "message", "cls"),
    [
        (400, "bad thing", xm.BadRequestError),
        (400, "Incorrect API key provided: xa***yz.", xm.AuthenticationError),
        (401, "whatever", xm.AuthenticationError),
        (403, "no credits", xm.PermissionDeniedError),
        (404, "nope", xm.NotFoundError),
        (409, "conflict", xm.ConflictError),
        (422, "bad", xm.UnprocessableEntityError),
        (429, "slow down", xm.RateLimitError),
        (500, "oops", xm.InternalServerError),
        (529, "overloaded", xm.InternalServerError),
        (418, "teapot", xm.APIStatusError),
        (302, "moved", xm.APIStatusError),
    ],
)
def test_status_classes(status: int, message: str, cls: type[xm.APIStatusError]) -> None:
    assert status_error_class(status, message) is cls


def test_wrong_key_400_is_authentication_error_with_status_kept() -> None:
    err = status_error(400, "Bad Request", {"x-request-id": "rid-9"}, WRONG_KEY,
                       path="/v1/models", attempt=1, now=0.0)
    assert isinstance(err, xm.AuthenticationError)
    assert err.status_code == 400
    assert err.request_id == "rid-9"
    assert err.code == "Client specified an invalid argument"
    text = str(err)
    assert "GET /v1/models" in text
    assert "Incorrect API key" in text
    assert "rid-9" in text


def test_status_error_carries_everything() -> None:
    err = status_error(404, "Not Found", {"x-request-id": "r1"}, NOT_FOUND,
                       path="/v1/language-models/grok-x", attempt=1, now=0.0)
    assert isinstance(err, xm.NotFoundError)
    assert err.status_code == 404
    assert err.body == {"code": "Some requested entity was not found",
                        "error": "The model grok-x does not exist or your team abc does not "
                                 "have access to it."}
    assert err.headers["x-request-id"] == "r1"
    assert err.method == "GET"
    assert err.path == "/v1/language-models/grok-x"
    assert "HTTP 404" in str(err)
    assert "grok-x does not exist" in str(err)


@pytest.mark.parametrize(
    ("message", "exhausted"),
    [
        ("Your team has exhausted its credits", True),
        ("spending limit reached for this month", True),
        ("You have run out of credits", True),
        ("Rate limit exceeded, try again in 2s", False),
        ("Too many requests", False),
        ("Some resource has been exhausted", False),  # xAI's generic 429 code
    ],
)
def test_rate_limit_exhaustion(message: str, exhausted: bool) -> None:
    body = ('{"code":"x","error":"' + message + '"}').encode()
    err = status_error(429, "Too Many Requests", {}, body, path="/v1/models", attempt=1, now=0.0)
    assert isinstance(err, xm.RateLimitError)
    assert err.exhausted is exhausted


def test_retry_after_is_reported_in_the_message() -> None:
    err = status_error(429, None, {"Retry-After": "3600"}, b"", path="/v1/models", attempt=3,
                       now=0.0)
    assert err.retry_after == 3600
    assert "3600" in str(err)
    assert "3 attempts" in str(err)


@pytest.mark.parametrize(
    "error",
    [
        xm.NotFoundError("nope", status_code=404, code="x", headers={"X-Request-Id": "r1"},
                         body={"error": "nope"}, method="GET", path="/v1/models/x",
                         attempts=2, request_id="r1"),
        xm.RateLimitError("slow", status_code=429, retry_after=3.0, method="GET", path="/p"),
        xm.APITimeoutError("slow", method="GET", path="/p", attempts=3),
        xm.APIConnectionError("tls", retryable=False, method="GET", path="/p"),
        xm.APIResponseValidationError("bad", body=b"{", method="GET", path="/p"),
    ],
)
def test_errors_survive_pickling(error: xm.APIError) -> None:
    import pickle

    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.__dict__.keys() == error.__dict__.keys()
    for name, value in vars(error).items():
        if name == "headers":
            assert dict(copy.headers) == dict(value)
            assert copy.headers.get("x-request-id") == value.get("X-Request-Id")
        else:
            assert getattr(copy, name) == value, name
