"""``AsyncClient``, the facade: checks the settings, owns the lifecycle, offers the
resources and ``catalog()``. Every request goes through its ``_pipeline``."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any

import aiohttp
from yarl import URL

from xai_models_async._batch import gather_bounded
from xai_models_async._cache import Cache, MemoryCache
from xai_models_async._catalog import Catalog, check_kind
from xai_models_async._changes import CatalogChange, watch
from xai_models_async._config import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
    build_headers,
    check_api_key,
    check_base_url,
    check_count,
    check_seconds,
    check_timeout,
    check_ttl,
)
from xai_models_async._endpoints import ENDPOINTS
from xai_models_async._errors import APIError, XAIError
from xai_models_async._pipeline import Pipeline
from xai_models_async._resource import DEFAULT_CONCURRENCY, Resource
from xai_models_async._retry import RetryPolicy
from xai_models_async.types import (
    EmbeddingModel,
    ImageGenerationModel,
    LanguageModel,
    Model,
    VideoGenerationModel,
)

__all__ = ["AsyncClient"]


class AsyncClient:
    """The client for xAI's Models API. Create one per application and share it.

    ``api_key`` falls back to ``$XAI_API_KEY``; ``base_url`` to ``$XAI_BASE_URL``, then
    ``https://api.x.ai`` (a trailing ``/v1`` is accepted). ``timeout`` is seconds per
    attempt (default 20) or an ``aiohttp.ClientTimeout``. ``retry`` is a
    :class:`RetryPolicy` (default: 2 retries with jittered exponential backoff).
    ``max_connections`` bounds the connection pool and the requests in flight.
    ``max_response_bytes`` (default 8 MiB) caps a response body, decompressed; a larger
    one raises ``APIResponseValidationError``. ``headers`` are sent with every request.
    ``session`` lets the application pass its own ``aiohttp.ClientSession``, which the
    client then never closes. ``trace_configs`` are aiohttp ``TraceConfig``\\ s, for
    metrics.

    Caching is off by default. ``cache_ttl`` (seconds) keeps list and get results fresh
    that long in ``cache`` (default: in memory; :class:`RedisCache` shares them among
    processes). ``stale_while_revalidate`` (seconds past freshness) answers from a stale
    entry at once and refreshes it in the background; ``stale_if_error`` (seconds past
    freshness) answers from a stale entry when a refresh fails (see the README's
    "Caching").

    ``sleep`` and ``clock`` exist for tests: they replace ``asyncio.sleep`` and the
    clocks (``time.monotonic`` for elapsed time, ``time.time`` for cache freshness).

    Use it as ``async with AsyncClient() as client:`` or keep it for the life of the app
    and ``await client.close()`` at shutdown. The HTTP session is created on first use,
    inside the running event loop, and the client stays bound to that loop.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | URL | None = None,
        timeout: float | aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        max_connections: int = 100,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        headers: Mapping[str, str] | None = None,
        session: aiohttp.ClientSession | None = None,
        cache_ttl: float | None = None,
        stale_while_revalidate: float = 0.0,
        stale_if_error: float = 0.0,
        cache: Cache | None = None,
        trace_configs: Iterable[aiohttp.TraceConfig] | None = None,
        sleep: Callable[[float], Awaitable[object]] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        api_key = check_api_key(api_key)
        url = check_base_url(base_url)
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise TypeError(f"retry must be a RetryPolicy or None, got {retry!r}")
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise TypeError(f"session must be an aiohttp.ClientSession, got {session!r}")
        if cache is not None and not isinstance(cache, Cache):
            raise TypeError("cache must implement the Cache protocol "
                            "(get, set, set_many, clear)")
        self._base_url = url
        self._max_connections = check_count(max_connections, "max_connections")
        self._pipeline = Pipeline(
            api_key=api_key,
            base_url=url,
            headers=build_headers(api_key, headers),
            timeout=check_timeout(timeout, "timeout"),
            retry=retry if retry is not None else RetryPolicy(),
            max_connections=self._max_connections,
            max_response_bytes=check_count(max_response_bytes, "max_response_bytes"),
            session=session,
            cache=cache if cache is not None else MemoryCache(clock=clock),
            cache_ttl=check_ttl(cache_ttl),
            stale_while_revalidate=check_seconds(stale_while_revalidate,
                                                 "stale_while_revalidate"),
            stale_if_error=check_seconds(stale_if_error, "stale_if_error"),
            trace_configs=list(trace_configs) if trace_configs is not None else None,
            sleep=sleep or asyncio.sleep,
            clock=clock,
        )
        pipeline = self._pipeline
        self.models: Resource[Model] = Resource(pipeline, ENDPOINTS["models"])
        self.language_models: Resource[LanguageModel] = Resource(
            pipeline, ENDPOINTS["language_models"])
        self.image_generation_models: Resource[ImageGenerationModel] = Resource(
            pipeline, ENDPOINTS["image_generation_models"])
        self.video_generation_models: Resource[VideoGenerationModel] = Resource(
            pipeline, ENDPOINTS["video_generation_models"])
        self.embedding_models: Resource[EmbeddingModel] = Resource(
            pipeline, ENDPOINTS["embedding_models"])

    # -- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> AsyncClient:
        self._pipeline.bind()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection pool (not a session passed in by the application), wake
        calls waiting to retry (they raise ``ClientClosedError``) and stop background
        refreshes. Idempotent; the client cannot be used afterwards."""
        await self._pipeline.close()

    @property
    def closed(self) -> bool:
        return self._pipeline.closed

    @property
    def base_url(self) -> str:
        return str(self._base_url)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return (
            f"<AsyncClient base_url={str(self._base_url)!r} api_key='***' "
            f"max_connections={self._max_connections} {state}>"
        )

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        # Only warn: the loop may be closed already, and nothing may be scheduled on it.
        pipeline = getattr(self, "_pipeline", None)
        if pipeline is not None and pipeline.unclosed_session():
            _warn(
                "AsyncClient was never closed: use `async with AsyncClient() as client:` "
                "or `await client.close()` when the application stops",
                ResourceWarning,
                source=self,
            )

    # -- catalog --------------------------------------------------------------------------

    async def catalog(
        self,
        *,
        details: bool = False,
        return_exceptions: bool = False,
        concurrency: int = DEFAULT_CONCURRENCY,
        retry: RetryPolicy | None = None,
        timeout: float | aiohttp.ClientTimeout | None = None,
        cache_ttl: float | None = None,
    ) -> Catalog:
        """Every list, fetched concurrently, as a :class:`Catalog`.

        ``details=True`` then also fetches each listed model's ``get`` (at most
        ``concurrency`` at once, bypassing the cache) and keeps those richer objects; it
        skips ``/v1/models``, whose get carries nothing its list does not. With
        ``return_exceptions=True`` a failed list (or get) leaves its part empty (or the
        listed object in place) and its error in ``Catalog.errors``; without it, the first
        error is raised. A part answered from a stale cache entry because its refresh
        failed (``stale_if_error``) is named in ``Catalog.stale``.
        """
        pipeline = self._pipeline
        kinds = list(ENDPOINTS)
        stale: dict[str, list[APIError]] = {kind: [] for kind in kinds}

        def fetch(kind: str, _: object) -> Awaitable[Any]:
            endpoint = ENDPOINTS[kind]
            return pipeline.call(
                endpoint.list_key(), endpoint.path, endpoint.decode_list, retry=retry,
                timeout=timeout, cache_ttl=cache_ttl, index=endpoint.index,
                stale=stale[kind])

        lists = await gather_bounded(fetch, kinds, concurrency=len(kinds),
                                     return_exceptions=return_exceptions)
        errors: dict[str, XAIError] = {}
        parts: dict[str, list[Any]] = {}
        for kind, result in zip(kinds, lists, strict=True):
            if isinstance(result, XAIError):
                errors[kind] = result
                parts[kind] = []
            else:
                parts[kind] = result
        if details:
            for kind in kinds:
                if kind == "models" or not parts[kind]:
                    continue
                listed = parts[kind]
                resource: Resource[Any] = getattr(self, kind)
                # cache_ttl=0: details means asking each get, not echoing the cached list.
                fetched = await resource.get_many(
                    [m.id for m in listed], concurrency=concurrency,
                    return_exceptions=True, retry=retry, timeout=timeout, cache_ttl=0,
                )
                merged: list[Any] = []
                for old, new in zip(listed, fetched, strict=True):
                    if isinstance(new, XAIError):
                        if not return_exceptions:
                            raise new
                        errors[f"{kind}:{old.id}"] = new
                        merged.append(old)
                    else:
                        merged.append(new)
                parts[kind] = merged
        return Catalog(
            models=tuple(parts["models"]),
            language_models=tuple(parts["language_models"]),
            image_generation_models=tuple(parts["image_generation_models"]),
            video_generation_models=tuple(parts["video_generation_models"]),
            embedding_models=tuple(parts["embedding_models"]),
            errors=errors,
            stale={kind: found[0] for kind, found in stale.items() if found},
        )

    def watch(
        self,
        interval: float = 60.0,
        *,
        kinds: Iterable[str] | None = None,
        since: Catalog | None = None,
        on_error: Callable[[XAIError], object] | None = None,
        cache_ttl: float | None = 0,
    ) -> AsyncIterator[CatalogChange]:
        """Poll the catalog every ``interval`` seconds and yield each change: a model
        added, removed, or changed (with the fields that changed, prices in USD)::

            async for change in client.watch(interval=60):
                print(change)   # "changed language model grok-3: prompt_text_token_price:
                                #  $3 -> $2.50 USD per 1M tokens"

        ``kinds`` defaults to every kind but ``"models"`` (whose entries repeat the
        typed lists'). The first poll is the baseline (or compare it with ``since``, a
        catalog saved earlier). A poll that fails, wholly or in part, never ends the
        stream: the last good lists are kept (nothing reads as removed), the error is
        logged at WARNING and passed to ``on_error``, and the next poll tries again.
        The stream ends when the client closes (a wait between polls ends at once) or
        when the caller breaks out of the loop. ``cache_ttl=0`` (the default) asks the
        API on every poll; ``None`` uses the client's cache.
        """
        interval = check_seconds(interval, "interval")
        if interval <= 0:
            raise ValueError("interval must be > 0 seconds")
        wanted = [check_kind(kind) for kind in kinds] if kinds is not None else [
            kind for kind in ENDPOINTS if kind != "models"]
        if since is not None and not isinstance(since, Catalog):
            raise TypeError(f"since must be a Catalog or None, got {type(since).__name__}")
        return watch(
            lambda: self.catalog(return_exceptions=True, cache_ttl=cache_ttl),
            self._pipeline.pause, interval=interval, kinds=wanted, since=since,
            on_error=on_error,
        )

    async def cache_clear(self) -> None:
        """Forget every cached answer (answers already in flight are not stored)."""
        await self._pipeline.cache_clear()
