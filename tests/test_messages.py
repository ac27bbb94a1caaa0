"""What users read (issue 13): key masking that never garbles a message, errors that name
the path actually requested and no aiohttp internals, and one delay per retry log line.

Each test failed on the code before its fix.
"""

from __future__ import annotations

import logging

import pytest
from aiohttp import web

import xai_models_async as xm
from xai_models_async._wire import mask_key
from xai_models_async.testing import FakeXAIServer, Fault

XAI_KEY = "xai-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78St90Uv12Wx34Yz56"


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        # Short keys are words as often as secrets: masked only where they stand alone.
        ("k", "Name or service not known", "Name or service not known"),
        ("k", "Bearer k rejected", "Bearer *** rejected"),
        ("test", "The model test-grok-model does not exist",
         "The model test-grok-model does not exist"),
        ("test", "key test is wrong", "key *** is wrong"),
        ("model", "The models grok-model and model-x", "The models grok-model and model-x"),
        ("model", "Incorrect API key provided: model.", "Incorrect API key provided: ***."),
        # A long key is the credential wherever it appears, even glued to other text.
        ("sk-proxy-SECRET123", "token=sk-proxy-SECRET123&x", "token=***&x"),
        (XAI_KEY, f"Incorrect API key provided: {XAI_KEY}", "Incorrect API key provided: ***"),
    ],
)
def test_the_key_is_masked_only_where_it_can_be_the_credential(
    key: str, text: str, expected: str
) -> None:
    assert mask_key(text, key) == expected


@pytest.mark.parametrize("key", ["k", "test", "model"])
async def test_short_keys_do_not_garble_server_messages(key: str) -> None:
    async with FakeXAIServer() as server, \
            xm.AsyncClient(key, base_url=server.url) as client:
        with pytest.raises(xm.NotFoundError) as info:
            await client.language_models.get("test-grok-model")
    message = str(info.value)
    assert "test-grok-model does not exist" in message  # the id is not a key
    assert "/v1/language-models/test-grok-model" in message
    # (The key "model" is a whole word in "The model ... does not exist" and is masked
    # there: a short key is masked wherever it stands alone.)


async def test_a_real_key_echoed_in_a_400_body_is_masked() -> None:
    async def echo(request: web.Request) -> web.Response:
        sent = request.headers["Authorization"].split()[1]
        return web.json_response(
            {"code": "Client specified an invalid argument",
             "error": f"Incorrect API key provided: {sent}. Get one at console.x.ai"},
            status=400)

    app = web.Application()
    app.router.add_get("/v1/models", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        async with xm.AsyncClient(XAI_KEY, base_url=url) as client:
            with pytest.raises(xm.AuthenticationError) as info:
                await client.models.list()
    finally:
        await runner.cleanup()
    assert XAI_KEY not in str(info.value)
    assert XAI_KEY not in str(info.value.body)
    assert "Incorrect API key provided: xai-Ab***" in str(info.value)


async def test_errors_name_the_path_actually_requested() -> None:
    """With base_url ".../api" the request goes to /api/v1/models; the message says so."""
    async with FakeXAIServer() as server, \
            xm.AsyncClient("k", base_url=f"{server.url}/api") as client:
        with pytest.raises(xm.NotFoundError) as info:
            await client.models.list()
    assert info.value.path == "/api/v1/models"
    assert str(info.value).startswith("GET /api/v1/models -> HTTP 404")


async def test_a_cut_off_body_is_said_in_http_terms() -> None:
    async with FakeXAIServer() as server:
        server.inject(Fault.truncate(), path="/v1/language-models")
        async with xm.AsyncClient("k", base_url=server.url,
                                  retry=xm.RetryPolicy.none()) as client:
            with pytest.raises(xm.APIConnectionError) as info:
                await client.language_models.list()
    message = str(info.value)
    assert "ContentLengthError" not in message
    assert "400" not in message  # aiohttp's internal code, read as an HTTP status
    assert "the connection closed after" in message
    assert " of " in message
    assert "bytes" in message


async def test_the_retry_log_line_says_the_delay_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="xai_models_async")

    async def no_wait(_: float) -> None:
        pass

    async with FakeXAIServer() as server:
        server.inject(Fault.error(503))
        async with xm.AsyncClient("k", base_url=server.url, sleep=no_wait) as client:
            await client.models.list()
    (line,) = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert line.count(" s") == 1, line  # "retrying in 0.37 s", and no second delay
    assert "HTTP 503" in line


def test_a_key_in_an_absurdly_nested_body_is_masked_without_recursing() -> None:
    """A server may nest an error body thousands of levels deep; masking it must neither
    recurse into a RecursionError nor leave the key in place."""
    from xai_models_async._errors import APIStatusError
    from xai_models_async._wire import scrub

    deep: object = ["the key: secret-key-123"]
    for _ in range(5000):
        deep = [deep]
    untouched: object = ["nothing to hide"]
    for _ in range(5000):
        untouched = [untouched]
    for body, holds_key in ((deep, True), (untouched, False)):
        error = APIStatusError("m", status_code=400, body=body, method="GET", path="/v1/x")
        scrub(error, "secret-key-123")
        assert (error.body is body) is not holds_key
        stack, strings = [error.body], []
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            else:
                strings.append(item)
        assert strings == (["*** (nested too deep to mask)"] if holds_key
                           else ["nothing to hide"])
