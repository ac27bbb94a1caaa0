"""One generic resource serves every endpoint family: ``list``, ``get``, ``get_many`` and
``resolve``, over the data of an :class:`~xai_models_async._endpoints.Endpoint` and the
client's :class:`~xai_models_async._pipeline.Pipeline`."""

from __future__ import annotations

import builtins
from collections.abc import Coroutine, Iterable, Sequence
from typing import Any, Generic, Literal, overload

import aiohttp

from xai_models_async._batch import Ticket, gather_bounded
from xai_models_async._endpoints import Endpoint, M, find_model
from xai_models_async._errors import XAIError
from xai_models_async._pipeline import Pipeline
from xai_models_async._retry import RetryPolicy

__all__ = ["DEFAULT_CONCURRENCY", "Resource"]

#: Requests in flight at once for ``get_many`` and ``catalog(details=True)``.
DEFAULT_CONCURRENCY = 32

Timeout = float | aiohttp.ClientTimeout | None


class Resource(Generic[M]):
    """``list``, ``get``, ``get_many`` and ``resolve`` for one endpoint family.

    Obtain it from the client (``client.language_models``), never build it yourself.
    Every method takes ``retry=`` (a :class:`RetryPolicy`) and ``timeout=`` (seconds per
    attempt, or an ``aiohttp.ClientTimeout``) to override the client's for one call, and
    ``cache_ttl=`` (seconds; ``0`` bypasses the cache for this call).
    """

    __slots__ = ("_endpoint", "_pipeline")

    _endpoint: Endpoint[M]

    def __init__(self, pipeline: Pipeline, endpoint: Endpoint[M]) -> None:
        self._pipeline = pipeline
        self._endpoint = endpoint

    def __repr__(self) -> str:
        return f"<Resource {self._endpoint.kind} {self._endpoint.path}>"

    @property
    def kind(self) -> str:
        """The family's name, e.g. ``"language_models"`` (the client's attribute)."""
        return self._endpoint.kind

    @property
    def path(self) -> str:
        """The list endpoint's path, e.g. ``/v1/language-models``."""
        return self._endpoint.path

    async def list(
        self,
        *,
        retry: RetryPolicy | None = None,
        timeout: Timeout = None,
        cache_ttl: float | None = None,
    ) -> builtins.list[M]:
        """Every model of this kind the key may use, in the server's order (a new list on
        every call, so changing it never changes a cached or shared answer)."""
        return list(await self._list(retry, timeout, cache_ttl))

    def _list(self, retry: RetryPolicy | None, timeout: Timeout,
              cache_ttl: float | None) -> Coroutine[Any, Any, Sequence[M]]:
        endpoint = self._endpoint
        return self._pipeline.call(
            endpoint.list_key(), endpoint.path, endpoint.decode_list,
            retry=retry, timeout=timeout, cache_ttl=cache_ttl, index=endpoint.index,
        )

    async def get(
        self,
        model_id: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: Timeout = None,
        cache_ttl: float | None = None,
    ) -> M:
        """One model by its id (an alias is not an id here: see :meth:`resolve`).

        Raises ``NotFoundError`` when the id is unknown or the team has no access to it,
        and ``ValueError`` for an empty id, before any request.
        """
        endpoint = self._endpoint
        return await self._pipeline.call(
            endpoint.item_key(model_id), endpoint.item_path(model_id),
            endpoint.item_decoder.decode, retry=retry, timeout=timeout, cache_ttl=cache_ttl,
        )

    @overload
    async def get_many(
        self,
        model_ids: Iterable[str],
        *,
        concurrency: int = ...,
        return_exceptions: Literal[False] = ...,
        retry: RetryPolicy | None = ...,
        timeout: Timeout = ...,
        cache_ttl: float | None = ...,
    ) -> builtins.list[M]: ...

    @overload
    async def get_many(
        self,
        model_ids: Iterable[str],
        *,
        concurrency: int = ...,
        return_exceptions: Literal[True],
        retry: RetryPolicy | None = ...,
        timeout: Timeout = ...,
        cache_ttl: float | None = ...,
    ) -> builtins.list[M | XAIError]: ...

    @overload
    async def get_many(
        self,
        model_ids: Iterable[str],
        *,
        concurrency: int = ...,
        return_exceptions: bool,
        retry: RetryPolicy | None = ...,
        timeout: Timeout = ...,
        cache_ttl: float | None = ...,
    ) -> builtins.list[M | XAIError]: ...

    async def get_many(
        self,
        model_ids: Iterable[str],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        return_exceptions: bool = False,
        retry: RetryPolicy | None = None,
        timeout: Timeout = None,
        cache_ttl: float | None = None,
    ) -> builtins.list[M] | builtins.list[M | XAIError]:
        """``get`` for many ids at once: at most ``concurrency`` requests in flight, results
        in the order of ``model_ids`` (duplicates in flight together share one request).

        Without ``return_exceptions`` the first failure cancels the rest and is raised; with
        it, each failed id's ``XAIError`` stands in its place. Every id is checked before
        any request is sent.
        """
        if isinstance(model_ids, (str, bytes)):
            raise TypeError(
                "model_ids must be a list of ids, not a single string (use get() for one id)"
            )
        ids = model_ids if isinstance(model_ids, (list, tuple)) else list(model_ids)
        endpoint = self._endpoint
        paths = {model_id: endpoint.item_path(model_id) for model_id in ids}  # checks all
        call = self._pipeline.call
        decoder = endpoint.item_decoder.decode

        def get(model_id: str, ticket: Ticket) -> Coroutine[Any, Any, M]:
            return call(endpoint.item_key(model_id), paths[model_id], decoder, retry=retry,
                        timeout=timeout, cache_ttl=cache_ttl, limiter=ticket)

        return await gather_bounded(
            get, ids, concurrency=concurrency, return_exceptions=return_exceptions
        )

    async def resolve(
        self,
        name: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: Timeout = None,
        cache_ttl: float | None = None,
    ) -> M:
        """The model whose id or one of whose aliases is ``name`` (e.g. ``grok-4-latest``).

        Reads the list (from the cache when enabled). Raises ``NotFoundError`` listing the
        closest ids and aliases in ``suggestions`` when nothing matches.
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError("name must be a non-empty string")
        models = await self._list(retry, timeout, cache_ttl)
        endpoint = self._endpoint
        return find_model(models, name, kind=endpoint.kind, path=endpoint.path)
