"""AsyncClient through aioresponses: configuration, requests, errors, retries, lifecycle."""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import warnings
from typing import Any

import aiohttp
import pytest
from yarl import URL

import xai_models_async as xm
from tests.conftest import API_KEY, CompatAioresponses, FakeSleep

BASE = "https://api.x.ai"
LM = {
    "id": "grok-3", "fingerprint": "fp", "created": 1, "object": "model", "owned_by": "xai",
    "version": "1", "input_modalities": ["text"], "output_modalities": ["text"],
    "prompt_text_token_price": 30000, "prompt_image_token_price": 0,
    "completion_text_token_price": 150000, "aliases": ["grok-3-latest"],
}


def client(**kwargs: Any) -> xm.AsyncClient:
    kwargs.setdefault("api_key", API_KEY)
    return xm.AsyncClient(**kwargs)


def sent_headers(mocked: CompatAioresponses, method: str = "GET") -> list[dict[str, str]]:
    return [dict(call.kwargs["headers"]) for key, calls in mocked.requests.items()
            for call in calls if key[0] == method]


# --- configuration -------------------------------------------------------------------

def test_missing_key_names_the_variable() -> None:
    with pytest.raises(xm.XAIError, match="XAI_API_KEY"):
        xm.AsyncClient()


def test_blank_key_is_missing() -> None:
    with pytest.raises(xm.XAIError, match="XAI_API_KEY"):
        xm.AsyncClient(api_key="   ")


async def test_key_from_environment(monkeypatch: pytest.MonkeyPatch,
                                    mocked: CompatAioresponses) -> None:
    monkeypatch.setenv("XAI_API_KEY", API_KEY + "\n")  # trailing newline from `echo`
    mocked.get(f"{xm.DEFAULT_BASE_URL}/v1/models", payload={"object": "list", "data": []})
    async with xm.AsyncClient() as c:
        await c.models.list()
    (headers,) = sent_headers(mocked)
    assert headers["Authorization"] == f"Bearer {API_KEY}"


def test_key_with_control_characters_is_refused_without_echoing_it() -> None:
    with pytest.raises(xm.XAIError) as info:
        xm.AsyncClient(api_key="xai-abc\r\nX-Evil: 1")
    assert "xai-abc" not in str(info.value)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "https://api.x.ai/"),
        ("https://api.x.ai", "https://api.x.ai/"),
        ("https://api.x.ai/", "https://api.x.ai/"),
        ("https://api.x.ai/v1", "https://api.x.ai/"),
        ("https://api.x.ai/v1/", "https://api.x.ai/"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/"),
        ("https://proxy.example/xai/v1", "https://proxy.example/xai"),
    ],
)
def test_base_url_normalised(given: str | None, expected: str) -> None:
    assert client(base_url=given).base_url == expected


def test_base_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert client().base_url == "http://127.0.0.1:9/"


@pytest.mark.parametrize("bad", ["api.x.ai", "ftp://api.x.ai", "https://", "https://h/?q=1",
                                 "http://[::1"])
def test_bad_base_url(bad: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        client(base_url=bad)


def test_bad_env_base_url_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XAI_BASE_URL", "not a url")
    with pytest.raises(ValueError, match="XAI_BASE_URL"):
        client()


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"timeout": 0}, ValueError),
        ({"timeout": -1}, ValueError),
        ({"timeout": float("nan")}, ValueError),
        ({"timeout": "5"}, TypeError),
        ({"timeout": None}, TypeError),
        ({"max_connections": 0}, ValueError),
        ({"max_connections": True}, ValueError),
        ({"retry": 3}, TypeError),
        ({"session": object()}, TypeError),
        ({"cache_ttl": -1}, ValueError),
        ({"cache": object()}, TypeError),
        ({"headers": {"Authorization": "Bearer other"}}, ValueError),
        ({"headers": {"X-Num": 1}}, TypeError),
    ],
)
def test_constructor_validates(kwargs: dict[str, Any], exc: type[Exception]) -> None:
    with pytest.raises(exc):
        client(**kwargs)


def test_repr_and_str_hide_the_key() -> None:
    c = client()
    assert API_KEY not in repr(c)
    assert API_KEY not in str(c)
    assert "api.x.ai" in repr(c)


# --- requests ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("resource", "path", "envelope"),
    [
        ("models", "/v1/models", "data"),
        ("language_models", "/v1/language-models", "models"),
        ("image_generation_models", "/v1/image-generation-models", "models"),
        ("video_generation_models", "/v1/video-generation-models", "models"),
    ],
)
async def test_list_and_get_hit_the_right_paths(
    mocked: CompatAioresponses, examples: list[dict[str, Any]], resource: str, path: str,
    envelope: str,
) -> None:
    index = ["models", "language_models", "image_generation_models",
             "video_generation_models"].index(resource)
    listing, single = examples[2 * index], examples[2 * index + 1]
    mocked.get(BASE + path, payload=listing)
    mocked.get(f"{BASE}{path}/{single['id']}", payload=single)
    async with client() as c:
        res = getattr(c, resource)
        items = await res.list()
        got = await res.get(single["id"])
    assert [m.id for m in items] == [m["id"] for m in listing[envelope]]
    assert isinstance(items, list)
    assert got.id == single["id"]


async def test_headers_sent(mocked: CompatAioresponses) -> None:
    mocked.get(BASE + "/v1/language-models/grok-3", payload=LM)
    async with client(headers={"X-Team": "t1"}) as c:
        await c.language_models.get("grok-3")
    (headers,) = sent_headers(mocked)
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert headers["User-Agent"].startswith(f"xai-models-async/{xm.__version__} ")
    assert headers["X-Team"] == "t1"
    assert re.fullmatch(r"[0-9a-f-]{36}", headers["x-client-request-id"])


@pytest.mark.parametrize(
    ("model_id", "encoded"),
    [
        ("grok-3", "grok-3"),
        ("custom/alias", "custom%2Falias"),
        ("a?b#c", "a%3Fb%23c"),
        ("..", "%2E%2E"),
        (".", "%2E"),
        ("../v1/models", "..%2Fv1%2Fmodels"),
        ("with space", "with%20space"),
        ("modèle", "mod%C3%A8le"),
        ("100%", "100%25"),
    ],
)
async def test_ids_are_one_encoded_segment(mocked: CompatAioresponses, model_id: str,
                                           encoded: str) -> None:
    url = URL(f"{BASE}/v1/language-models/{encoded}", encoded=True)
    mocked.get(url, payload=LM)
    async with client() as c:
        await c.language_models.get(model_id)
    ((_, sent_url),) = mocked.requests.keys()
    assert sent_url.raw_path == f"/v1/language-models/{encoded}"


@pytest.mark.parametrize("bad", ["", "   "])
async def test_empty_id_raises_before_any_request(mocked: CompatAioresponses, bad: str) -> None:
    async with client() as c:
        with pytest.raises(ValueError, match="non-empty"):
            await c.language_models.get(bad)
        with pytest.raises(ValueError, match="non-empty"):
            await c.language_models.get_many(["grok-3", bad])
    assert not mocked.requests


async def test_non_string_id_is_a_type_error() -> None:
    async with client() as c:
        with pytest.raises(TypeError):
            await c.language_models.get(3)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="single string"):
            await c.language_models.get_many("grok-3")


# --- errors --------------------------------------------------------------------------

async def test_not_found(mocked: CompatAioresponses) -> None:
    mocked.get(BASE + "/v1/language-models/grok-x", status=404, headers={"x-request-id": "r9"},
               body=b'{"code":"Some requested entity was not found","error":"The model grok-x'
                    b' does not exist or your team t does not have access to it."}')
    async with client(api_key=API_KEY) as c:
        with pytest.raises(xm.NotFoundError) as info:
            await c.language_models.get("grok-x")
    err = info.value
    assert err.status_code == 404
    assert err.request_id == "r9"
    assert err.attempts == 1
    assert "GET /v1/language-models/grok-x" in str(err)
    assert "does not exist" in str(err)


async def test_wrong_key_is_authentication_error(mocked: CompatAioresponses) -> None:
    mocked.get(BASE + "/v1/models", status=400,
               body=b'{"code":"Client specified an invalid argument","error":"Incorrect API '
                    b'key provided: xa***yz. You can obtain an API key from https://console.x.ai."}')
    async with client() as c:
        with pytest.raises(xm.AuthenticationError) as info:
            await c.models.list()
    assert info.value.status_code == 400
    assert API_KEY not in str(info.value)


@pytest.mark.parametrize(
    ("body", "content_type", "fragment"),
    [
        (b"<html>oops</html>", "text/html", "not valid JSON"),
        (b"", "application/json", "not valid JSON"),
        (b'{"models": [{"id": 5}]}', "application/json", "$.models[0].id"),
        (b'{"data": []}', "application/json", "missing required field `models`"),
        (b'[1, 2]', "application/json", "Expected `object`"),
    ],
)
async def test_bad_2xx_bodies_raise_validation_error(
    mocked: CompatAioresponses, body: bytes, content_type: str, fragment: str,
) -> None:
    mocked.get(BASE + "/v1/language-models", body=body, content_type=content_type)
    async with client() as c:
        with pytest.raises(xm.APIResponseValidationError) as info:
            await c.language_models.list()
    assert fragment in str(info.value)
    assert "GET /v1/language-models" in str(info.value)
    assert len(mocked.requests[("GET", URL(BASE + "/v1/language-models"))]) == 1  # no retry


async def test_connection_errors_are_wrapped(mocked: CompatAioresponses,
                                             fake_sleep: FakeSleep) -> None:
    mocked.get(BASE + "/v1/models", exception=aiohttp.ClientOSError(104, "reset"), repeat=True)
    async with client(sleep=fake_sleep) as c:
        with pytest.raises(xm.APIConnectionError) as info:
            await c.models.list()
    assert info.value.attempts == 3
    assert isinstance(info.value.__cause__, aiohttp.ClientOSError)
    assert len(fake_sleep.delays) == 2


async def test_ssl_errors_are_not_retried(mocked: CompatAioresponses,
                                          fake_sleep: FakeSleep) -> None:
    import ssl

    from aiohttp.client_reqrep import ConnectionKey

    key = ConnectionKey("api.x.ai", 443, True, True, None, None, None)
    exc = aiohttp.ClientConnectorCertificateError(key, ssl.SSLCertVerificationError("bad cert"))
    mocked.get(BASE + "/v1/models", exception=exc)
    async with client(sleep=fake_sleep) as c:
        with pytest.raises(xm.APIConnectionError, match="TLS") as info:
            await c.models.list()
    assert info.value.retryable is False
    assert info.value.attempts == 1
    assert fake_sleep.delays == []


async def test_timeouts_become_api_timeout_error(mocked: CompatAioresponses,
                                                 fake_sleep: FakeSleep) -> None:
    mocked.get(BASE + "/v1/models", exception=asyncio.TimeoutError(), repeat=True)
    async with client(sleep=fake_sleep, retry=xm.RetryPolicy(max_retries=1)) as c:
        with pytest.raises(xm.APITimeoutError) as info:
            await c.models.list()
    assert info.value.attempts == 2


# --- retries -------------------------------------------------------------------------

async def test_retry_then_success_keeps_the_call_id(mocked: CompatAioresponses,
                                                    fake_sleep: FakeSleep) -> None:
    url = BASE + "/v1/language-models/grok-3"
    mocked.get(url, status=503, body=b'{"error":"busy"}')
    mocked.get(url, status=529, body=b'{"error":"overloaded"}', headers={"Retry-After": "2"})
    mocked.get(url, payload=LM)
    async with client(sleep=fake_sleep, retry=xm.RetryPolicy(jitter=0)) as c:
        model = await c.language_models.get("grok-3")
    assert model.id == "grok-3"
    assert fake_sleep.delays == [0.5, 2.0]  # backoff, then the server's Retry-After
    ids = {h["x-client-request-id"] for h in sent_headers(mocked)}
    assert len(ids) == 1


async def test_final_error_counts_attempts(mocked: CompatAioresponses,
                                           fake_sleep: FakeSleep) -> None:
    mocked.get(BASE + "/v1/models", status=502, body=b"bad gateway", repeat=True)
    async with client(sleep=fake_sleep, retry=xm.RetryPolicy(max_retries=3)) as c:
        with pytest.raises(xm.InternalServerError) as info:
            await c.models.list()
    assert info.value.attempts == 4
    assert info.value.status_code == 502
    assert "after 4 attempts" in str(info.value)


async def test_retry_after_over_the_cap_fails_at_once(mocked: CompatAioresponses,
                                                      fake_sleep: FakeSleep) -> None:
    mocked.get(BASE + "/v1/models", status=429, body=b'{"error":"slow down"}',
               headers={"Retry-After": "7200"})
    async with client(sleep=fake_sleep) as c:
        with pytest.raises(xm.RateLimitError) as info:
            await c.models.list()
    assert info.value.retry_after == 7200
    assert "7200" in str(info.value)
    assert fake_sleep.delays == []


async def test_exhausted_credits_are_not_retried(mocked: CompatAioresponses,
                                                 fake_sleep: FakeSleep) -> None:
    mocked.get(BASE + "/v1/models", status=429,
               body=b'{"code":"x","error":"Your team has exhausted its credits."}')
    async with client(sleep=fake_sleep) as c:
        with pytest.raises(xm.RateLimitError) as info:
            await c.models.list()
    assert info.value.exhausted
    assert fake_sleep.delays == []


async def test_per_call_retry_override(mocked: CompatAioresponses,
                                       fake_sleep: FakeSleep) -> None:
    mocked.get(BASE + "/v1/models", status=503, body=b"", repeat=True)
    async with client(sleep=fake_sleep) as c:
        with pytest.raises(xm.InternalServerError) as info:
            await c.models.list(retry=xm.RetryPolicy.none())
    assert info.value.attempts == 1


async def test_per_call_timeout_is_validated() -> None:
    async with client() as c:
        with pytest.raises(ValueError, match="timeout"):
            await c.models.list(timeout=-1)
        with pytest.raises(TypeError, match="RetryPolicy"):
            await c.models.list(retry=5)  # type: ignore[arg-type]


async def test_deadline_stops_retrying(mocked: CompatAioresponses) -> None:
    now = [0.0]
    delays: list[float] = []

    async def sleep(d: float) -> None:
        delays.append(d)
        now[0] += d

    mocked.get(BASE + "/v1/models", status=503, body=b"", repeat=True)
    policy = xm.RetryPolicy(max_retries=10, jitter=0, deadline=3.0)
    async with client(sleep=sleep, clock=lambda: now[0], retry=policy) as c:
        with pytest.raises(xm.InternalServerError) as info:
            await c.models.list()
    assert delays == [0.5, 1.0]  # a third wait (2.0 s) would end past 3 s
    assert info.value.attempts == 3


# --- logging -------------------------------------------------------------------------

async def test_logging_never_shows_the_key(mocked: CompatAioresponses, fake_sleep: FakeSleep,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="xai_models_async")
    url = BASE + "/v1/models"
    mocked.get(url, status=503, body=f'{{"error":"echo {API_KEY}"}}'.encode())
    mocked.get(url, status=400, body=b'{"error":"Incorrect API key provided"}')
    async with client(sleep=fake_sleep) as c:
        with pytest.raises(xm.AuthenticationError) as info:
            await c.models.list()
    records = [r for r in caplog.records if r.name == "xai_models_async"]
    debug = [r for r in records if r.levelno == logging.DEBUG and "-> 503" in r.getMessage()]
    retries = [r for r in records if r.levelno == logging.INFO and "retrying in" in r.getMessage()]
    assert debug
    assert "attempt 1" in debug[0].getMessage()
    assert len(retries) == 1
    assert "HTTP 503" in retries[0].getMessage()
    assert API_KEY not in caplog.text
    assert API_KEY[4:] not in caplog.text
    assert API_KEY not in str(info.value)


# --- lifecycle -----------------------------------------------------------------------

async def test_close_is_idempotent_and_final(mocked: CompatAioresponses) -> None:
    mocked.get(BASE + "/v1/models", payload={"object": "list", "data": []})
    c = client()
    assert await c.models.list() == []
    await c.close()
    await c.close()
    assert c.closed
    with pytest.raises(xm.XAIError, match="closed"):
        await c.models.list()


async def test_caller_owned_session_is_not_closed(mocked: CompatAioresponses) -> None:
    mocked.get(BASE + "/v1/models", payload={"object": "list", "data": []})
    async with aiohttp.ClientSession() as session:
        async with client(session=session) as c:
            await c.models.list()
        assert not session.closed


async def test_closed_caller_session_is_a_clear_error() -> None:
    session = aiohttp.ClientSession()
    await session.close()
    c = client(session=session)
    with pytest.raises(xm.XAIError, match="closed"):
        await c.models.list()
    with pytest.raises(xm.XAIError, match="closed"):
        async with c:
            pass


def test_second_event_loop_is_a_clear_error() -> None:
    c = client(retry=xm.RetryPolicy.none(), base_url="http://127.0.0.1:9")

    async def use() -> None:
        with CompatAioresponses() as m:
            m.get("http://127.0.0.1:9/v1/models", payload={"object": "list", "data": []})
            await c.models.list()

    asyncio.run(use())
    with pytest.raises(xm.XAIError, match="event loop"):
        asyncio.run(use())
    # The first loop is gone with its sockets; close() from another loop still works.
    asyncio.run(c.close())
    assert c.closed


def test_unclosed_client_warns_once_naming_the_fix() -> None:
    async def use() -> None:
        with CompatAioresponses() as m:
            m.get(BASE + "/v1/models", payload={"object": "list", "data": []})
            c = client()
            await c.models.list()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(use())
        gc.collect()
    ours = [w for w in caught if issubclass(w.category, ResourceWarning)
            and "AsyncClient" in str(w.message)]
    assert len(ours) == 1
    assert "async with" in str(ours[0].message)


def test_session_is_created_lazily_in_the_loop() -> None:
    # Built outside any event loop (aiohttp would refuse a session here), never used:
    # nothing to close, so nothing to warn about.
    c = client()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        del c
        gc.collect()


@pytest.mark.parametrize(
    ("url", "warns"),
    [
        ("http://api.example.com", True),
        ("http://10.0.0.5:8080", True),
        ("http://127.0.0.1:8000", False),
        ("http://localhost:8000", False),
        ("http://[::1]:8000", False),
        ("https://api.example.com", False),
    ],
)
def test_plain_http_beyond_loopback_warns(url: str, warns: bool) -> None:
    import inspect

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
        xm.AsyncClient(API_KEY, base_url=url)
    ours = [w for w in caught if "unencrypted" in str(w.message)]
    assert len(ours) == (1 if warns else 0)
    if warns:
        assert (ours[0].filename, ours[0].lineno) == (__file__, line)  # the caller's line
