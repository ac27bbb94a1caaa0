"""Catalog.diff and client.watch(): a change feed for bots (issue 13), against the local
server whose catalog changes between polls. The wait between polls is the injected sleep,
so no test waits for real."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

import xai_models_async as xm
from tests.test_integration import leftover_tasks
from tests.test_readme import readme_block
from xai_models_async.testing import FakeXAIServer, Fault, default_catalog

INTERVAL = 60.0
NEW_MODEL: dict[str, Any] = {
    "id": "grok-5", "fingerprint": "fp_5", "created": 1767225600, "object": "model",
    "owned_by": "xai", "version": "1.0", "input_modalities": ["text"],
    "output_modalities": ["text"], "prompt_text_token_price": 40000,
    "prompt_image_token_price": 0, "completion_text_token_price": 200000, "aliases": [],
}


def changed_catalog() -> dict[str, Any]:
    """The default catalog with grok-5 added, grok-3 repriced and grok-3-mini removed."""
    catalog = default_catalog()
    models = catalog["language_models"]
    catalog["language_models"] = [m for m in models if m["id"] != "grok-3-mini"] + [NEW_MODEL]
    for model in catalog["language_models"]:
        if model["id"] == "grok-3":
            model["prompt_text_token_price"] = 25000  # $3 -> $2.50 per 1M tokens
    return catalog


def summary(changes: list[xm.CatalogChange]) -> set[tuple[str, str, str]]:
    return {(c.change, c.kind, c.model_id) for c in changes}


EXPECTED = {
    ("added", "language_models", "grok-5"),
    ("changed", "language_models", "grok-3"),
    ("removed", "language_models", "grok-3-mini"),
}


def test_diff_reports_added_removed_and_changed_fields_in_usd() -> None:
    old = xm.Catalog(language_models=[
        xm.LanguageModel(**{**m, "input_modalities": tuple(m["input_modalities"]),
                            "output_modalities": tuple(m["output_modalities"]),
                            "aliases": tuple(m["aliases"])})
        for m in default_catalog()["language_models"]])
    new_models = []
    for m in changed_catalog()["language_models"]:
        new_models.append(xm.LanguageModel(**{
            **m, "input_modalities": tuple(m["input_modalities"]),
            "output_modalities": tuple(m["output_modalities"]),
            "aliases": tuple(m["aliases"])}))
    changes = old.diff(xm.Catalog(language_models=new_models))
    assert summary(changes) == EXPECTED
    (repriced,) = [c for c in changes if c.change == "changed"]
    (price,) = repriced.fields
    assert price == xm.FieldChange("prompt_text_token_price", Decimal("3"), Decimal("2.5"),
                                   "USD per 1M tokens")
    assert str(repriced) == ("changed language model grok-3: prompt_text_token_price: "
                             "$3 -> $2.5 USD per 1M tokens")
    assert old.diff(old) == []
    with pytest.raises(ValueError, match="kind"):
        old.diff(old, kinds=["language"])  # type: ignore[list-item]


async def test_watch_yields_each_change_once(server: FakeXAIServer) -> None:
    polls = 0

    async def sleep(delay: float) -> None:
        nonlocal polls
        if delay == INTERVAL:
            polls += 1
            if polls == 2:  # between the second and third poll
                server.set_catalog(changed_catalog())

    async with xm.AsyncClient("k", base_url=server.url, sleep=sleep) as client:
        changes: list[xm.CatalogChange] = []
        async for change in client.watch(interval=INTERVAL):
            changes.append(change)
            if len(changes) == 3:
                break
    assert summary(changes) == EXPECTED
    assert polls == 2  # the first poll is the baseline; the change shows on the third
    assert leftover_tasks() == set()


class Polls:
    """The injected sleep of a watch under faults: counts the waits between polls (a
    retry's backoff passes at once), changes the server's catalog after ``change_at``
    polls, and after ``stop_at`` sets ``done`` and waits until close() ends the wait."""

    def __init__(self, server: FakeXAIServer, *, change_at: int, stop_at: int) -> None:
        self.server, self.change_at, self.stop_at = server, change_at, stop_at
        self.count = 0
        self.done = asyncio.Event()

    async def sleep(self, delay: float) -> None:
        if delay != INTERVAL:
            return
        self.count += 1
        if self.count == self.change_at:
            self.server.set_catalog(changed_catalog())
        if self.count == self.stop_at:
            self.done.set()
            await asyncio.sleep(3600)


async def test_watch_survives_faults_without_false_changes() -> None:
    """30% of requests fail (errors, resets, cut bodies, HTML): the stream never dies,
    errors reach on_error, and a failed part never reads as models removed."""
    async with FakeXAIServer() as server:
        server.inject_rate(0.3, [Fault.error(503), Fault.error(500), Fault.reset(),
                                 Fault.truncate(), Fault.non_json()], seed=5)
        polls = Polls(server, change_at=10, stop_at=40)
        errors: list[xm.XAIError] = []
        client = xm.AsyncClient("k", base_url=server.url, sleep=polls.sleep,
                                retry=xm.RetryPolicy(max_retries=1))
        changes: list[xm.CatalogChange] = []

        async def consume() -> None:
            async for change in client.watch(interval=INTERVAL, on_error=errors.append):
                changes.append(change)

        task = asyncio.ensure_future(consume())
        await asyncio.wait_for(polls.done.wait(), timeout=30)
        await client.close()
        await asyncio.wait_for(task, timeout=2)
    assert summary(changes) == EXPECTED
    assert len(changes) == 3
    assert errors, "30% faults with one retry must fail some polls"
    assert all(isinstance(e, xm.APIError) for e in errors)
    assert leftover_tasks() == set()


async def test_watch_ends_when_the_client_closes(server: FakeXAIServer) -> None:
    """The real sleep: close() ends the wait between polls at once."""
    client = xm.AsyncClient("k", base_url=server.url)
    seen: list[xm.CatalogChange] = []

    async def consume() -> None:
        async for change in client.watch(interval=3600):
            seen.append(change)

    task = asyncio.ensure_future(consume())
    while server.request_count < 4:  # noqa: ASYNC110 - a server counter, no event
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.02)
    await client.close()
    await asyncio.wait_for(task, timeout=2)
    assert seen == []
    assert leftover_tasks() == set()


async def test_watch_compares_the_first_poll_with_since(server: FakeXAIServer) -> None:
    async with xm.AsyncClient("k", base_url=server.url) as client:
        saved = await client.catalog()
        server.set_catalog(changed_catalog())
        stream = client.watch(interval=INTERVAL, since=saved)
        first = await stream.__anext__()
        await stream.aclose()  # type: ignore[attr-defined]
    assert (first.change, first.model_id) == ("removed", "grok-3-mini")


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"interval": 0}, ValueError), ({"interval": -1}, ValueError),
    ({"kinds": ["language"]}, ValueError), ({"since": {}}, TypeError),
])
def test_watch_checks_its_arguments(kwargs: dict[str, Any], error: type[Exception]) -> None:
    client = xm.AsyncClient("k")
    with pytest.raises(error):
        client.watch(**kwargs)


async def test_the_readme_bot_announces_changes_through_faults(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The README's bot, as printed there: its ``announce_changes`` runs against a catalog
    that changes between polls while 30% of requests fail, and ends when the client
    closes."""
    block = readme_block("async def announce_changes")
    namespace: dict[str, Any] = {"__name__": "readme_bot"}  # not "__main__": no asyncio.run
    exec(compile(block.code, f"README.md:{block.line}", "exec"), namespace)
    async with FakeXAIServer() as server:
        server.inject_rate(0.3, [Fault.error(503), Fault.reset(), Fault.truncate()], seed=11)
        polls = Polls(server, change_at=5, stop_at=25)  # the README polls every 60 s
        client = xm.AsyncClient("k", base_url=server.url, sleep=polls.sleep,
                                retry=xm.RetryPolicy(max_retries=1))
        bot = asyncio.ensure_future(namespace["announce_changes"](client))
        await asyncio.wait_for(polls.done.wait(), timeout=30)
        assert not bot.done(), "the bot's loop died"
        await client.close()
        await asyncio.wait_for(bot, timeout=2)
    lines = capsys.readouterr().out.splitlines()
    assert "added language model grok-5" in lines
    assert "removed language model grok-3-mini" in lines
    assert ("changed language model grok-3: prompt_text_token_price: "
            "$3 -> $2.5 USD per 1M tokens") in lines
    assert "  prompt_text_token_price: 3 -> 2.5 USD per 1M tokens" in lines
    assert len([line for line in lines if not line.startswith("  ")]) == 3
    assert leftover_tasks() == set()
