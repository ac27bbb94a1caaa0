"""The four clients, behind one small interface so every workload drives them identically.

(a) xai-models-async, this library.
(b) bare aiohttp + msgspec: one shared ClientSession, Decoders built once. The BASELINE: the
    practical limit of the stack the library is built on.
(c) openai-python ``AsyncOpenAI``: it only knows ``/v1/models``, so its rows use that
    endpoint (same number of objects, the ``/v1/models`` object shape).
(d) httpx.AsyncClient + pydantic v2, TypeAdapters built once.

Each client's third-party imports happen inside its factory, so a missing package makes
that one client "unavailable: <reason>" instead of breaking the harness.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "CLIENTS",
    "BenchClient",
    "ClientInfo",
    "ClientUnavailableError",
    "Decoder",
    "blocked_imports",
    "fan_out",
    "library_supports_cache_ttl",
    "make_client",
    "make_decoder",
]

CONCURRENCY_LIMIT = 64

Decoder = Callable[[bytes], object]


class ClientUnavailableError(Exception):
    """The client cannot run here (missing package, library API not there yet)."""


class BenchClient(Protocol):
    async def get(self, model_id: str) -> object: ...

    async def get_many(self, ids: Sequence[str], concurrency: int) -> list[object]: ...

    async def list_language(self) -> Sequence[object]: ...

    async def catalog(self) -> object: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class ClientInfo:
    key: str
    label: str
    detail: str


CLIENTS: dict[str, ClientInfo] = {
    "a": ClientInfo("a", "(a) xai-models-async", "this library, AsyncClient"),
    "b": ClientInfo("b", "(b) aiohttp+msgspec", "baseline: one ClientSession, Decoders built once"),
    "c": ClientInfo("c", "(c) openai", "AsyncOpenAI, max_retries=0; /v1/models only (see README)"),
    "d": ClientInfo("d", "(d) httpx+pydantic", "httpx.AsyncClient + TypeAdapter built once"),
}


def blocked_imports() -> frozenset[str]:
    """Top-level packages to treat as missing (``XAI_BENCH_BLOCK_IMPORTS=openai,httpx``).

    Lets anyone check on a full dev venv that the harness degrades the way it must on CI,
    where only the ``test`` extra is installed.
    """
    raw = os.environ.get("XAI_BENCH_BLOCK_IMPORTS", "")
    return frozenset(name.strip() for name in raw.split(",") if name.strip())


def _import(name: str) -> Any:
    if name.split(".")[0] in blocked_imports():
        raise ImportError(f"No module named {name!r} (blocked by XAI_BENCH_BLOCK_IMPORTS)")
    return importlib.import_module(name)


async def fan_out(
    fetch: Callable[[str], Awaitable[object]], ids: Sequence[str], concurrency: int
) -> list[object]:
    """Fetch every id with at most ``concurrency`` in flight, results in input order.

    A fixed pool of workers pulling from one shared iterator: cheaper than one task per id
    behind a semaphore, so it is the lean pattern the baseline deserves. (b), (c) and (d)
    all use it, so their differences are the clients' own.
    """
    results: list[object] = [None] * len(ids)
    pending = iter(enumerate(ids))

    async def worker() -> None:
        # Sharing one iterator is safe: next() never yields to the event loop.
        for index, model_id in pending:
            results[index] = await fetch(model_id)

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(ids))))))
    return results


# --------------------------------------------------------------------------- (a) library


def library_supports_cache_ttl() -> bool:
    """Whether ``AsyncClient`` takes ``cache_ttl`` (workload 7 needs it)."""
    try:
        xm = _import("xai_models_async")
        return "cache_ttl" in inspect.signature(xm.AsyncClient).parameters
    except (ImportError, AttributeError, TypeError, ValueError):
        return False


class _LibraryClient:
    def __init__(self, base_url: str, cache_ttl: float | None) -> None:
        try:
            xm = _import("xai_models_async")
            client_cls = xm.AsyncClient
            retry_none = xm.RetryPolicy.none()
        except (ImportError, AttributeError) as exc:
            raise ClientUnavailableError(f"library API not importable: {exc}") from exc
        kwargs: dict[str, Any] = {
            "api_key": "bench",
            "base_url": base_url,
            "max_connections": CONCURRENCY_LIMIT,
            "retry": retry_none,
        }
        if cache_ttl is not None:
            kwargs["cache_ttl"] = cache_ttl
        try:
            self._client = client_cls(**kwargs)
        except TypeError as exc:
            raise ClientUnavailableError(f"AsyncClient(...) rejected the call: {exc}") from exc

    async def get(self, model_id: str) -> object:
        return await self._client.language_models.get(model_id)

    async def get_many(self, ids: Sequence[str], concurrency: int) -> list[object]:
        return list(await self._client.language_models.get_many(ids, concurrency=concurrency))

    async def list_language(self) -> Sequence[object]:
        return await self._client.language_models.list()  # type: ignore[no-any-return]

    async def catalog(self) -> object:
        return await self._client.catalog()

    async def aclose(self) -> None:
        await self._client.close()


# --------------------------------------------------------------------------- (b) baseline


class _BareClient:
    def __init__(self, base_url: str) -> None:
        try:
            aiohttp = _import("aiohttp")
            msgspec = _import("msgspec")
            from benchmarks import bare_types as t
        except ImportError as exc:
            raise ClientUnavailableError(str(exc)) from exc
        self._base = base_url
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=CONCURRENCY_LIMIT),
            headers={"Authorization": "Bearer bench"},
        )
        decoder = msgspec.json.Decoder
        self._one = decoder(t.BareLanguageModel)
        self._languages = decoder(t.BareLanguageList)
        self._models = decoder(t.BareModelList)
        self._images = decoder(t.BareImageList)
        self._videos = decoder(t.BareVideoList)
        self._embeddings = decoder(t.BareEmbeddingList)

    async def _fetch(self, path: str) -> bytes:
        async with self._session.get(self._base + path) as response:
            body: bytes = await response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {path}: HTTP {response.status}")
            return body

    async def get(self, model_id: str) -> object:
        return self._one.decode(await self._fetch("/v1/language-models/" + model_id))

    async def get_many(self, ids: Sequence[str], concurrency: int) -> list[object]:
        return await fan_out(self.get, ids, concurrency)

    async def list_language(self) -> Sequence[object]:
        return self._languages.decode(await self._fetch("/v1/language-models")).models  # type: ignore[no-any-return]

    async def catalog(self) -> object:
        # What a catalog read costs without a cache: the same five list calls as the
        # library's catalog(), concurrently.
        models, languages, images, videos, embeddings = await asyncio.gather(
            self._fetch("/v1/models"),
            self._fetch("/v1/language-models"),
            self._fetch("/v1/image-generation-models"),
            self._fetch("/v1/video-generation-models"),
            self._fetch("/v1/embedding-models"),
        )
        return (
            self._models.decode(models).data,
            self._languages.decode(languages).models,
            self._images.decode(images).models,
            self._videos.decode(videos).models,
            self._embeddings.decode(embeddings).models,
        )

    async def aclose(self) -> None:
        await self._session.close()


# --------------------------------------------------------------------------- (c) openai


class _OpenAIClient:
    def __init__(self, base_url: str) -> None:
        try:
            openai = _import("openai")
        except ImportError as exc:
            raise ClientUnavailableError(str(exc)) from exc
        # Default http client and limits: what an openai user gets. Concurrency is bounded by
        # the shared fan_out pool, so its 1000-connection default never comes into play.
        self._client = openai.AsyncOpenAI(base_url=base_url + "/v1", api_key="bench", max_retries=0)

    async def get(self, model_id: str) -> object:
        return await self._client.models.retrieve(model_id)

    async def get_many(self, ids: Sequence[str], concurrency: int) -> list[object]:
        return await fan_out(self.get, ids, concurrency)

    async def list_language(self) -> Sequence[object]:
        # /v1/models: the only list openai-python can reach; the server puts the same 2,000
        # models there.
        page = await self._client.models.list()
        return page.data  # type: ignore[no-any-return]

    async def catalog(self) -> object:
        raise ClientUnavailableError("openai has no catalog/caching equivalent")

    async def aclose(self) -> None:
        await self._client.close()


# --------------------------------------------------------------------------- (d) httpx


class _HttpxClient:
    def __init__(self, base_url: str) -> None:
        try:
            httpx = _import("httpx")
            pydantic = _import("pydantic")
            types = _import("benchmarks.pydantic_types")
        except ImportError as exc:
            raise ClientUnavailableError(str(exc)) from exc
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": "Bearer bench"},
            limits=httpx.Limits(
                max_connections=CONCURRENCY_LIMIT, max_keepalive_connections=CONCURRENCY_LIMIT
            ),
        )
        self._one = pydantic.TypeAdapter(types.PydLanguageModel)
        self._languages = pydantic.TypeAdapter(types.PydLanguageList)

    async def _fetch(self, path: str) -> bytes:
        response = await self._client.get(path)
        response.raise_for_status()
        return response.content  # type: ignore[no-any-return]

    async def get(self, model_id: str) -> object:
        return self._one.validate_json(await self._fetch("/v1/language-models/" + model_id))

    async def get_many(self, ids: Sequence[str], concurrency: int) -> list[object]:
        return await fan_out(self.get, ids, concurrency)

    async def list_language(self) -> Sequence[object]:
        body = await self._fetch("/v1/language-models")
        return self._languages.validate_json(body).models  # type: ignore[no-any-return]

    async def catalog(self) -> object:
        raise ClientUnavailableError("httpx+pydantic has no catalog/caching equivalent")

    async def aclose(self) -> None:
        await self._client.aclose()


def make_client(key: str, base_url: str, *, cache_ttl: float | None = None) -> BenchClient:
    """A fresh client of kind ``key``; raises ClientUnavailableError if it cannot run."""
    if key == "a":
        return _LibraryClient(base_url, cache_ttl)
    if key == "b":
        return _BareClient(base_url)
    if key == "c":
        return _OpenAIClient(base_url)
    if key == "d":
        return _HttpxClient(base_url)
    raise ValueError(f"unknown client {key!r}")


# --------------------------------------------------------------------------- decode only


def _library_decoder() -> tuple[Decoder, str]:
    """The library's own path from list-body bytes to ``list[LanguageModel]``."""
    try:
        # Where the endpoint table and decode live now, else where older trees had them
        # (benchmarks.ab drives older revisions with this harness).
        try:
            endpoints = _import("xai_models_async._endpoints")
            checked_decode = _import("xai_models_async._wire").decode
        except ImportError:
            endpoints = _import("xai_models_async._resource")
            checked_decode = endpoints.decode
        endpoint = endpoints.ENDPOINTS["language_models"]
        decode_list = endpoint.decode_list
    except (ImportError, AttributeError, KeyError):
        pass
    else:
        # Exactly what Resource.list runs on a 200 body: the endpoint's prebuilt list
        # decoder inside the error-mapping wrapper.
        def library_path(body: bytes) -> object:
            return checked_decode(
                decode_list, body, path=endpoint.path, attempts=1, request_id=None, status=200
            )

        return library_path, "_wire.decode(ENDPOINTS['language_models'].decode_list)"
    try:
        msgspec = _import("msgspec")
        types = _import("xai_models_async.types")
    except ImportError as exc:
        raise ClientUnavailableError(str(exc)) from exc
    # Older trees without _resource: the library's path by construction is its
    # LanguageModel Struct under the documented {"models": [...]} envelope.
    item_type: Any = types.LanguageModel
    envelope = msgspec.defstruct("LanguageModelList", [("models", list[item_type])], frozen=True)
    decoder = msgspec.json.Decoder(envelope)
    return (lambda body: decoder.decode(body).models), "Decoder({'models': list[LanguageModel]})"


def make_decoder(key: str) -> tuple[Decoder, str]:
    """(bytes -> list of typed objects, description) for the decode-only workload."""
    if key == "a":
        return _library_decoder()
    if key == "b":
        try:
            msgspec = _import("msgspec")
            from benchmarks.bare_types import BareLanguageList
        except ImportError as exc:
            raise ClientUnavailableError(str(exc)) from exc
        decoder = msgspec.json.Decoder(BareLanguageList)
        return (lambda body: decoder.decode(body).models), "msgspec Decoder(BareLanguageList)"
    if key == "d":
        try:
            pydantic = _import("pydantic")
            types = _import("benchmarks.pydantic_types")
        except ImportError as exc:
            raise ClientUnavailableError(str(exc)) from exc
        adapter = pydantic.TypeAdapter(types.PydLanguageList)
        return (lambda body: adapter.validate_json(body).models), "TypeAdapter.validate_json"
    raise ClientUnavailableError("no public decode-only API (decoding is internal to openai)")
