"""One generic resource serves all four endpoint families.

The differences between ``models``, ``language_models``, ``image_generation_models`` and
``video_generation_models`` are data (an :class:`Endpoint`: path, envelope field, Struct
type and its decoders), not copies of code.
"""

from __future__ import annotations

import builtins
import difflib
import re
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload
from urllib.parse import quote

import aiohttp
import msgspec

from xai_models_async._batch import gather_bounded
from xai_models_async._errors import (
    APIResponseValidationError,
    NotFoundError,
    XAIError,
    mask_secrets,
)
from xai_models_async._retry import RetryPolicy
from xai_models_async.types import (
    ImageGenerationModel,
    LanguageModel,
    Model,
    VideoGenerationModel,
)

if TYPE_CHECKING:
    from typing import Literal

    from xai_models_async._client import AsyncClient

__all__ = ["ENDPOINTS", "Endpoint", "Resource"]

M = TypeVar("M", Model, LanguageModel, ImageGenerationModel, VideoGenerationModel)
T = TypeVar("T")

DEFAULT_CONCURRENCY = 32

class Endpoint(Generic[M]):
    """The data that tells one endpoint family from another. Decoders are built once."""

    __slots__ = ("envelope_field", "item_decoder", "item_type", "kind", "list_decoder", "path")

    kind: str
    path: str
    item_type: type[M]
    envelope_field: str

    def __init__(self, kind: str, path: str, item_type: type[M], envelope_field: str) -> None:
        self.kind = kind
        self.path = path
        self.item_type = item_type
        self.envelope_field = envelope_field
        envelope = msgspec.defstruct(
            f"_{item_type.__name__}List",
            [(envelope_field, list[item_type])],  # type: ignore[valid-type]
            frozen=True,
        )
        self.list_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(envelope)
        self.item_decoder: msgspec.json.Decoder[M] = msgspec.json.Decoder(item_type)

    def item_path(self, model_id: str) -> str:
        return f"{self.path}/{encode_id(model_id)}"

    def decode_list(self, body: bytes) -> list[M]:
        items: list[M] = getattr(self.list_decoder.decode(body), self.envelope_field)
        return items


ENDPOINTS: dict[str, Endpoint[Any]] = {
    "models": Endpoint("models", "/v1/models", Model, "data"),
    "language_models": Endpoint("language_models", "/v1/language-models", LanguageModel,
                                "models"),
    "image_generation_models": Endpoint(
        "image_generation_models", "/v1/image-generation-models", ImageGenerationModel, "models"
    ),
    "video_generation_models": Endpoint(
        "video_generation_models", "/v1/video-generation-models", VideoGenerationModel, "models"
    ),
}


# RFC 3986 unreserved characters: what quote() would leave as is.
_PLAIN_ID = re.compile(r"[A-Za-z0-9._~-]+").fullmatch


def encode_id(model_id: object) -> str:
    """Percent-encode a model id as exactly one path segment.

    ``/``, ``?``, ``#``, ``%``, spaces and non-ASCII are escaped; ``.`` and ``..`` are
    escaped too, since a client or proxy would otherwise resolve them as "this/parent
    folder" and ask for another endpoint.
    """
    if not isinstance(model_id, str):
        raise TypeError(f"model_id must be a str, got {type(model_id).__name__}")
    if _PLAIN_ID(model_id) and model_id not in (".", ".."):
        return model_id  # nothing to escape (ids like "grok-3" and "grok-4-0709")
    if not model_id or model_id.isspace():
        raise ValueError("model_id must be a non-empty string")
    if model_id in (".", ".."):
        return model_id.replace(".", "%2E")
    try:
        return quote(model_id, safe="")
    except UnicodeEncodeError:  # a lone surrogate such as "\ud800"
        raise ValueError("model_id is not valid Unicode text") from None


def decode(decoder: Callable[[bytes], T], body: bytes, *, path: str, attempts: int,
           request_id: str | None, status: int) -> T:
    """Bytes into the Struct (``decoder`` is a Decoder's ``decode``, or a function around
    it), or an ``APIResponseValidationError`` that says where."""
    try:
        return decoder(body)
    except msgspec.ValidationError as exc:  # a subclass of DecodeError: catch it first
        problem = f"the response does not fit the expected type: {exc}"
    except (msgspec.DecodeError, RecursionError) as exc:  # RecursionError: absurd nesting
        snippet = mask_secrets(body[:80].decode("utf-8", "replace"))
        problem = f"the response is not valid JSON ({exc}); it starts with {snippet!r}"
    raise APIResponseValidationError(
        problem, body=body[:2048], status_code=status, method="GET", path=path,
        attempts=attempts, request_id=request_id,
    )


def _ttl_key(kind: str, model_id: str | None = None) -> str:
    return f"{kind}:list" if model_id is None else f"{kind}:get:{model_id}"


class Resource(Generic[M]):
    """``list``, ``get``, ``get_many`` and ``resolve`` for one endpoint family.

    Obtain it from the client (``client.language_models``), never build it yourself.
    Every method takes ``retry=`` (a :class:`RetryPolicy`) and ``timeout=`` (seconds per
    attempt, or an ``aiohttp.ClientTimeout``) to override the client's for one call, and
    ``cache_ttl=`` (seconds; ``0`` bypasses the cache for this call).
    """

    __slots__ = ("_client", "_endpoint")

    _client: AsyncClient
    _endpoint: Endpoint[M]

    def __init__(self, client: AsyncClient, endpoint: Endpoint[M]) -> None:
        self._client = client
        self._endpoint = endpoint

    def __repr__(self) -> str:
        return f"<Resource {self._endpoint.kind} {self._endpoint.path}>"

    @property
    def path(self) -> str:
        """The list endpoint's path, e.g. ``/v1/language-models``."""
        path: str = self._endpoint.path
        return path

    async def list(
        self,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | aiohttp.ClientTimeout | None = None,
        cache_ttl: float | None = None,
    ) -> list[M]:
        """Every model of this kind the key may use, in the server's order (a new list on
        every call, so changing it never changes a cached answer)."""
        return list(await self._list_shared(retry=retry, timeout=timeout, cache_ttl=cache_ttl))

    async def _list_shared(
        self,
        *,
        retry: RetryPolicy | None,
        timeout: float | aiohttp.ClientTimeout | None,
        cache_ttl: float | None,
    ) -> Sequence[M]:
        endpoint = self._endpoint
        client = self._client
        return await client._cached_call(
            _ttl_key(endpoint.kind),
            endpoint.path,
            endpoint.decode_list,
            retry=retry,
            timeout=timeout,
            cache_ttl=cache_ttl,
            also_cache=self._index_list,
        )

    async def get(
        self,
        model_id: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | aiohttp.ClientTimeout | None = None,
        cache_ttl: float | None = None,
    ) -> M:
        """One model by its id (an alias is not an id here: see :meth:`resolve`).

        Raises ``NotFoundError`` when the id is unknown or the team has no access to it,
        and ``ValueError`` for an empty id, before any request.
        """
        path = self._endpoint.item_path(model_id)
        return await self._get(model_id, path, retry=retry, timeout=timeout,
                               cache_ttl=cache_ttl)

    def _get(
        self,
        model_id: str,
        path: str,
        *,
        retry: RetryPolicy | None,
        timeout: float | aiohttp.ClientTimeout | None,
        cache_ttl: float | None,
        batch: bool = False,
    ) -> Coroutine[Any, Any, M]:
        # A plain function returning the coroutine: one frame less on every resumption.
        endpoint = self._endpoint
        return self._client._cached_call(
            _ttl_key(endpoint.kind, model_id),
            path,
            endpoint.item_decoder.decode,
            retry=retry,
            timeout=timeout,
            cache_ttl=cache_ttl,
            batch=batch,
        )

    @overload
    async def get_many(
        self,
        model_ids: Iterable[str],
        *,
        concurrency: int = ...,
        return_exceptions: Literal[False] = ...,
        retry: RetryPolicy | None = ...,
        timeout: float | aiohttp.ClientTimeout | None = ...,
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
        timeout: float | aiohttp.ClientTimeout | None = ...,
        cache_ttl: float | None = ...,
    ) -> builtins.list[M | XAIError]: ...

    async def get_many(
        self,
        model_ids: Iterable[str],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        return_exceptions: bool = False,
        retry: RetryPolicy | None = None,
        timeout: float | aiohttp.ClientTimeout | None = None,
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
        item_path = self._endpoint.item_path
        for model_id in ids:
            item_path(model_id)  # every id is checked before any request

        def get(model_id: str) -> Coroutine[Any, Any, M]:
            return self._get(model_id, item_path(model_id), retry=retry, timeout=timeout,
                             cache_ttl=cache_ttl, batch=True)

        return await gather_bounded(
            get, ids, concurrency=concurrency, return_exceptions=return_exceptions
        )

    async def resolve(
        self,
        name: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | aiohttp.ClientTimeout | None = None,
        cache_ttl: float | None = None,
    ) -> M:
        """The model whose id or one of whose aliases is ``name`` (e.g. ``grok-4-latest``).

        Reads the list (from the cache when enabled). Raises ``NotFoundError`` listing the
        closest ids and aliases when nothing matches.
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError("name must be a non-empty string")
        models = await self._list_shared(retry=retry, timeout=timeout, cache_ttl=cache_ttl)
        return find_model(models, name, kind=self._endpoint.kind, path=self._endpoint.path)

    async def _index_list(self, models: Sequence[M], ttl: float) -> None:
        """Cache every listed model under its own get key, so a get is answered from a
        cached list when the list holds the id."""
        client = self._client
        kind = self._endpoint.kind
        for model in models:
            await client._cache_set(_ttl_key(kind, model.id), model, ttl)


def find_model(models: Sequence[T], name: str, *, kind: str, path: str,
               method: str = "resolve") -> T:
    """The model in ``models`` whose id, then alias, equals ``name``; else NotFoundError
    with close matches. Shared by ``Resource.resolve`` and ``Catalog.find``."""
    for model in models:
        if getattr(model, "id", None) == name:
            return model
    for model in models:
        if name in getattr(model, "aliases", ()):
            return model
    names = [n for m in models for n in (getattr(m, "id", ""), *getattr(m, "aliases", ()))]
    close = tuple(difflib.get_close_matches(name, names, n=5, cutoff=0.5))
    hint = f"; did you mean: {', '.join(close)}?" if close else ""
    label = kind.replace("_", " ").rstrip("s")
    error = NotFoundError(
        f"no {label} has the id or alias {name!r}{hint}",
        status_code=404, code="not_found", method=method, path=path, from_server=False,
    )
    error.suggestions = close
    raise error
