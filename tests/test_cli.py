"""The ``xai-models`` command, run as a real subprocess (``python -m xai_models_async``):
tables, get/resolve, JSON, errors, demo, serve. Progress on a terminal is in
test_cli_progress.py, diff and watch in test_cli_feed.py."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
import pytest_asyncio

from tests._cli import (
    SECRET,
    clean_env,
    default_sigint,
    env_for,
    error_line,
    run_cli,
)
from xai_models_async.cli import main, shift, usd, utc_date
from xai_models_async.testing import FakeXAIServer, Fault, default_catalog

CATALOG = default_catalog()
KIND_KEYS = {
    "language": "language_models",
    "image": "image_generation_models",
    "video": "video_generation_models",
    "embedding": "embedding_models",
    "models": "models",
}


@pytest_asyncio.fixture
async def server() -> AsyncIterator[FakeXAIServer]:
    async with FakeXAIServer() as srv:
        yield srv


def meaningful(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The fields that carry a value: decoded objects also list absent optional fields as
    null / [] (and the default ``object``), which the catalog's raw JSON leaves out."""
    return {k: v for k, v in obj.items() if v not in (None, [], {})}


# -- tables ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KIND_KEYS))
async def test_list_table_shows_every_model_of_the_kind(server: FakeXAIServer, kind: str) -> None:
    result = await run_cli("list", kind, env=env_for(server))
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split()[:2] == ["ID", "ALIASES"]
    ids = [line.split()[0] for line in lines[1:]]
    assert ids == [m["id"] for m in CATALOG[KIND_KEYS[kind]]]
    assert result.err == ""


async def test_language_table_prices_dates_modalities(server: FakeXAIServer) -> None:
    result = await run_cli("list", env=env_for(server))  # language is the default kind
    assert result.code == 0, result.err
    header, *rows = result.out.splitlines()
    for column in ("MODALITIES", "PROMPT $/1M", "CACHED $/1M", "COMPLETION $/1M", "CREATED"):
        assert column in header
    grok3 = next(r for r in rows if r.startswith("grok-3 "))
    # 30000 / 7500 / 150000 cents per 100M tokens; created 1743724800.
    for cell in ("grok-3-latest, grok-3-beta", "text→text", "$3.00", "$0.75", "$15.00",
                 "2025-04-04"):
        assert cell in grok3
    mini = next(r for r in rows if r.startswith("grok-3-mini "))
    assert "$0.075" in mini  # sub-cent price: every digit, no float noise
    vision = next(r for r in rows if r.startswith("grok-2-vision-1212"))
    assert "text,image→text" in vision
    assert " - " in vision  # no cached price in the reference's example
    # Aligned: each column starts at the same offset on every line.
    offset = header.index("CREATED")
    assert all(row[offset:offset + 10] == "2025-04-04" or row[offset:offset + 10] == "2024-12-12"
               for row in rows)


async def test_image_and_video_columns(server: FakeXAIServer) -> None:
    image, video = await asyncio.gather(
        run_cli("list", "image", env=env_for(server)),
        run_cli("list", "video", env=env_for(server)),
    )
    assert "MAX PROMPT" in image.out
    assert "1024" in image.out
    assert "text,image→video" in video.out


async def test_image_table_prices_each_image_in_usd() -> None:
    # image_price is in USD ticks (10**-10 USD): 200000000 is xAI's $0.02 per image.
    catalog = default_catalog()
    catalog["image_generation_models"][0]["image_price"] = 200000000
    async with FakeXAIServer(catalog) as srv:
        table, detail = await asyncio.gather(
            run_cli("list", "image", env=env_for(srv)),
            run_cli("get", "grok-imagine-image", "--kind", "image", env=env_for(srv)),
        )
    assert table.code == 0, table.err
    header, row = table.out.splitlines()
    assert "$/IMAGE" in header
    assert "(raw)" not in header
    assert row.split()[header.split().index("$/IMAGE") - 1] == "$0.02"  # "MAX PROMPT": 2 words
    assert re.search(r"^image_price\s+\$0\.02 per image \(raw 200000000\)$", detail.out, re.M)


async def test_embedding_models_are_a_kind(server: FakeXAIServer) -> None:
    table, detail = await asyncio.gather(
        run_cli("list", "embedding", env=env_for(server)),
        run_cli("get", "v1", "--kind", "embedding", env=env_for(server)),
    )
    assert table.code == 0, table.err
    header, row = table.out.splitlines()
    assert header.split()[:2] == ["ID", "ALIASES"]
    assert "PROMPT $/1M" in header
    assert row.split()[0] == "v1"
    assert "$0.01" in row  # 100 cents per 100M tokens
    assert server.count("/v1/embedding-models/v1") == 1
    assert re.search(r"^id\s+v1$", detail.out, re.M)


async def test_table_fits_the_terminal_width(server: FakeXAIServer) -> None:
    result = await run_cli("list", env=env_for(server, COLUMNS="100"))
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert "…" in result.out  # the aliases column gave up width
    assert "$15.00" in result.out  # prices are never cut
    assert "grok-2-vision-1212" in result.out  # nor ids


# -- get / resolve --------------------------------------------------------------------------


async def test_get_defaults_to_language_models_like_list_and_resolve(
        server: FakeXAIServer) -> None:
    result = await run_cli("get", "grok-3", env=env_for(server))
    assert result.code == 0, result.err
    assert server.count("/v1/language-models/grok-3") == 1
    assert server.count("/v1/models/grok-3") == 0
    assert re.search(r"^id\s+grok-3$", result.out, re.M)
    assert re.search(r"^created\s+2025-04-04 \(1743724800\)$", result.out, re.M)
    assert re.search(r"^prompt_text_token_price\s+\$3\.00 per 1M tokens", result.out, re.M)
    models = await run_cli("get", "grok-3", "--kind", "models", env=env_for(server))
    assert models.code == 0, models.err
    assert server.count("/v1/models/grok-3") == 1


def test_get_help_names_its_default_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["get", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "default: language, as for list, get and resolve" in text
    assert "use resolve" in text


async def test_get_with_kind_asks_that_family(server: FakeXAIServer) -> None:
    result = await run_cli("get", "grok-3", "--kind", "language", env=env_for(server))
    assert result.code == 0, result.err
    assert server.count("/v1/language-models/grok-3") == 1
    assert server.count("/v1/models/grok-3") == 0
    assert re.search(r"^prompt_text_token_price\s+\$3\.00 per 1M tokens", result.out, re.M)
    assert re.search(r"^search_price\s+\$0\.025 per search", result.out, re.M)
    assert re.search(r"^aliases\s+grok-3-latest, grok-3-beta$", result.out, re.M)


async def test_resolve_by_alias(server: FakeXAIServer) -> None:
    table, as_json = await asyncio.gather(
        run_cli("resolve", "grok-4-latest", env=env_for(server)),
        run_cli("resolve", "grok-3-beta", "--json", env=env_for(server)),
    )
    assert table.code == 0, table.err
    assert re.search(r"^id\s+grok-4-0709$", table.out, re.M)
    assert as_json.code == 0, as_json.err
    assert json.loads(as_json.out)["id"] == "grok-3"


async def test_resolve_unknown_alias_suggests(server: FakeXAIServer) -> None:
    result = await run_cli("resolve", "grok-4-lates", env=env_for(server))
    assert result.code == 1
    line = error_line(result)
    assert "grok-4-latest" in line  # "did you mean"
    assert result.out == ""


# -- JSON -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KIND_KEYS))
async def test_list_json_is_the_catalog(server: FakeXAIServer, kind: str) -> None:
    result = await run_cli("list", kind, "--json", env=env_for(server))
    assert result.code == 0, result.err
    decoded = json.loads(result.out)
    expected = CATALOG[KIND_KEYS[kind]]
    assert [meaningful(m) for m in decoded] == [meaningful(m) for m in expected]


async def test_get_json_is_the_object(server: FakeXAIServer) -> None:
    result = await run_cli("get", "grok-imagine-video", "--kind", "video", "--json",
                           env=env_for(server))
    assert result.code == 0, result.err
    assert result.out.startswith("{\n  \"id\"")  # pretty, indent 2
    assert meaningful(json.loads(result.out)) == meaningful(CATALOG["video_generation_models"][0])


async def test_options_work_before_and_after_the_subcommand(server: FakeXAIServer) -> None:
    env = clean_env(XAI_BASE_URL=server.url)  # no key in the environment
    results = await asyncio.gather(
        run_cli("--json", "get", "grok-3", "--api-key", SECRET, env=env),
        run_cli("get", "grok-3", "--json", "--api-key", SECRET, env=env),
        run_cli("--api-key", SECRET, "--json", "--retries", "0", "--timeout", "5",
                "get", "grok-3", env=env),
        run_cli("get", "--retries", "0", "grok-3", "--timeout", "5", "--json",
                "--api-key", SECRET, env=env),
    )
    for result in results:
        assert result.code == 0, result.err
        assert json.loads(result.out)["id"] == "grok-3"
    assert len({r.out for r in results}) == 1


async def test_base_url_option_overrides_the_environment(server: FakeXAIServer) -> None:
    env = clean_env(XAI_BASE_URL="http://127.0.0.1:1", XAI_API_KEY=SECRET)
    result = await run_cli("list", "video", "--base-url", server.url, env=env)
    assert result.code == 0, result.err
    assert "grok-imagine-video" in result.out


# -- catalog --------------------------------------------------------------------------------


async def test_catalog_table_and_json(server: FakeXAIServer) -> None:
    table, as_json = await asyncio.gather(
        run_cli("catalog", env=env_for(server)),
        run_cli("--json", "catalog", env=env_for(server)),
    )
    assert table.code == 0, table.err
    for title in ("Language models (4)", "Image generation models (1)",
                  "Video generation models (1)", "Embedding models (1)",
                  "All models (/v1/models) (6)"):
        assert title in table.out
    assert as_json.code == 0, as_json.err
    decoded = json.loads(as_json.out)
    assert set(decoded) == set(CATALOG)
    for key, models in CATALOG.items():
        assert [meaningful(m) for m in decoded[key]] == [meaningful(m) for m in models]


# -- errors ---------------------------------------------------------------------------------


async def test_missing_key_says_how_to_set_it() -> None:
    result = await run_cli("list", env=clean_env())
    assert result.code == 1
    line = error_line(result)
    for hint in ("export XAI_API_KEY=", "--api-key", "--demo"):
        assert hint in line
    assert result.out == ""


async def test_unknown_model_is_one_line_and_hints_at_resolve(server: FakeXAIServer) -> None:
    result = await run_cli("get", "grok-3-mini-latst", env=env_for(server))
    assert result.code == 1
    line = error_line(result)
    assert "grok-3-mini-latst" in line
    assert "404" in line
    hints = result.err.strip().splitlines()[1:]
    assert hints[0] == ("xai-models: hint: `xai-models resolve grok-3-mini-latst` finds a "
                        "model by id or alias")
    assert hints[1].startswith("xai-models: hint: closest language names: grok-3-mini-latest")
    assert result.out == ""


async def test_get_of_an_alias_names_its_model(server: FakeXAIServer) -> None:
    result = await run_cli("get", "grok-4-latest", env=env_for(server))
    assert result.code == 1
    error_line(result)
    assert result.err.strip().splitlines()[1] == (
        "xai-models: hint: grok-4-latest is an alias of grok-4-0709: "
        "`xai-models resolve grok-4-latest` or `xai-models get grok-4-0709`")


async def test_get_hint_of_another_kind_says_the_kind(server: FakeXAIServer) -> None:
    result = await run_cli("get", "grok-imagine-vid", "--kind", "video", env=env_for(server))
    assert result.code == 1
    assert "(with --kind video)" in result.err
    assert "closest video names: grok-imagine-video" in result.err


async def test_debug_shows_the_traceback(server: FakeXAIServer) -> None:
    result = await run_cli("--debug", "get", "grok-nope", env=env_for(server))
    assert result.code == 1
    assert "Traceback" in result.err
    lines = result.err.rstrip().splitlines()
    last_error = max(i for i, line in enumerate(lines) if line.startswith("xai-models: error: "))
    assert lines[last_error + 1:]  # the hints follow the error line
    assert all(line.startswith("xai-models: hint: ") for line in lines[last_error + 1:])


async def test_connection_failure_is_one_line() -> None:
    env = clean_env(XAI_API_KEY=SECRET)
    result = await run_cli("--base-url", "http://127.0.0.1:1", "--retries", "0", "list",
                           env=env)
    assert result.code == 1
    assert "127.0.0.1:1" in error_line(result)


async def test_retries_and_timeout_options_reach_the_client(server: FakeXAIServer) -> None:
    server.inject(Fault.error(503), path="/v1/video-generation-models", times=1)
    no_retry = await run_cli("list", "video", "--retries", "0", env=env_for(server))
    assert no_retry.code == 1
    assert "503" in error_line(no_retry)
    server.inject(Fault.error(503), path="/v1/video-generation-models", times=1)
    retried = await run_cli("--retries", "1", "list", "video", env=env_for(server))
    assert retried.code == 0, retried.err
    server.inject(Fault.slow(5), path="/v1/video-generation-models", times=1)
    timed_out = await run_cli("list", "video", "--timeout", "0.2", "--retries", "0",
                              env=env_for(server))
    assert timed_out.code == 1
    # The limit and the option that sets it, not only "timed out".
    assert "each attempt may take 0.2 s (--timeout SECONDS)" in error_line(timed_out)


async def test_ctrl_c_exits_130(server: FakeXAIServer) -> None:
    server.inject(Fault.slow(10), path="/v1/language-models", times=1)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "xai_models_async", "list",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env_for(server),
        preexec_fn=default_sigint,
    )
    try:
        for _ in range(200):  # until the request is in flight
            if server.count("/v1/language-models"):
                break
            await asyncio.sleep(0.025)
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 130
    assert "Traceback" not in err.decode()
    assert out == b""


@pytest.mark.parametrize("argv", [
    [],
    ["lst"],
    ["list", "bogus"],
    ["get"],
    ["--timeout", "abc", "list"],
    ["list", "--timeout", "0"],
    ["--retries", "-1", "list"],
    ["get", "grok-3", "--kind", "audio"],
    ["--demo", "--base-url", "http://127.0.0.1:1", "list"],
    ["get", ""],
    ["resolve", "  "],
    ["catalog", "--details", "extra"],
    ["watch", "--interval", "0"],
    ["watch", "--kind", "models"],
])
async def test_bad_usage_exits_2(argv: list[str]) -> None:
    result = await run_cli(*argv, env=clean_env(XAI_API_KEY=SECRET))
    assert result.code == 2, result
    assert "usage:" in result.err
    assert "error:" in result.err
    assert "Traceback" not in result.err
    assert result.out == ""


async def test_catalog_details_fetches_each_typed_model(server: FakeXAIServer) -> None:
    result = await run_cli("catalog", "--details", "--json", env=env_for(server))
    assert result.code == 0, result.err
    assert result.err == ""
    decoded = json.loads(result.out)
    for key, models in CATALOG.items():
        assert [m["id"] for m in decoded[key]] == [m["id"] for m in models]
        for model in models:
            # One get per typed model; /v1/models entries only from their list.
            expected = 0 if key == "models" else 1
            path = {"models": "/v1/models", "language_models": "/v1/language-models",
                    "image_generation_models": "/v1/image-generation-models",
                    "video_generation_models": "/v1/video-generation-models",
                    "embedding_models": "/v1/embedding-models"}[key]
            assert server.count(f"{path}/{model['id']}") == expected, model["id"]
    plain = await run_cli("catalog", env=env_for(server))
    assert plain.code == 0, plain.err
    assert server.count("/v1/language-models/grok-3") == 1  # no details without --details


async def test_catalog_details_fails_on_a_failed_get(server: FakeXAIServer) -> None:
    server.inject(Fault.error(500), path="/v1/language-models/grok-3", times=1)
    result = await run_cli("catalog", "--details", "--retries", "0", env=env_for(server))
    assert result.code == 1
    assert "/v1/language-models/grok-3" in error_line(result)
    assert result.out == ""


def test_catalog_help_says_details_skips_v1_models(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "/v1/models entries are not fetched again" in text


async def test_the_key_is_never_printed() -> None:
    # A server that only accepts another key: the wrong-key 400 quotes a masked key.
    async with FakeXAIServer(api_key="xai-the-right-key-000") as srv:
        env = clean_env(XAI_BASE_URL=srv.url, XAI_API_KEY=SECRET)
        results = await asyncio.gather(
            run_cli("list", env=env),
            run_cli("--debug", "get", "grok-3", env=env),
            run_cli("--api-key", SECRET, "--debug", "catalog", env=clean_env(
                XAI_BASE_URL=srv.url)),
            run_cli("--api-key", "xai-the-right-key-000", "--debug", "--json", "catalog",
                    env=env),
        )
    for result in results[:3]:
        assert result.code == 1
    assert results[3].code == 0, results[3].err
    for result in results:
        assert SECRET not in result.out
        assert SECRET not in result.err
    assert "xai-the-right-key-000" not in results[3].out + results[3].err


# -- demo -----------------------------------------------------------------------------------


async def test_demo_needs_no_environment_at_all() -> None:
    result = await run_cli("--demo", "catalog", env={})
    assert result.code == 0, result.err
    for models in CATALOG.values():
        for model in models:
            assert model["id"] in result.out
    assert result.err == ""  # piped: the demo notice is for terminals only


async def test_demo_option_after_the_subcommand() -> None:
    result = await run_cli("resolve", "grok-4", "--demo", "--json", env=clean_env())
    assert result.code == 0, result.err
    assert json.loads(result.out)["id"] == "grok-4-0709"


# -- in-process -----------------------------------------------------------------------------


def test_main_returns_the_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bogus"]) == 2
    assert main(["--demo", "--json", "list", "video"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)[0]["id"] == "grok-imagine-video"


@pytest.mark.parametrize(("raw", "text"), [
    ("3", "$3.00"), ("0.75", "$0.75"), ("0.075", "$0.075"), ("0.0001", "$0.0001"),
    ("0", "$0.00"), ("0.0000", "$0.00"), ("1234.5", "$1,234.50"), ("1E+3", "$1,000.00"),
    ("0.7500", "$0.75"), ("-0.5", "-$0.50"), (None, "-"),
    # Past Decimal's 28-digit context: still every digit, no rounding, no exception.
    ("1" + "0" * 39 + ".0001", "$1" + ",000" * 13 + ".0001"),
])
def test_usd_formatting_is_exact(raw: str | None, text: str) -> None:
    from decimal import Decimal

    assert usd(None if raw is None else Decimal(raw)) == text


def test_shift_is_exact_at_any_size() -> None:
    from decimal import Decimal

    raw = 123456789012345678901234567890123
    assert shift(raw, 4) == Decimal("12345678901234567890123456789.0123")
    assert usd(shift(30000, 4)) == "$3.00"
    assert usd(shift(250000000, 10)) == "$0.025"


def test_utc_date() -> None:
    assert utc_date(1743724800) == "2025-04-04"
    assert utc_date(None) == "-"
