"""The endpoint families as data: what tells ``/v1/models`` from ``/v1/language-models``
and the others is a path, an envelope field and a Struct type, not code. One table,
:data:`ENDPOINTS`, which the resources, the catalog and the CLI all read.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import msgspec

from xai_models_async._errors import NotFoundError
from xai_models_async._wire import encode_id
from xai_models_async.types import (
    EmbeddingModel,
    ImageGenerationModel,
    LanguageModel,
    Model,
    VideoGenerationModel,
)

__all__ = ["ENDPOINTS", "Endpoint", "find_model"]

M = TypeVar("M", Model, LanguageModel, ImageGenerationModel, VideoGenerationModel,
            EmbeddingModel)
T = TypeVar("T")


class Endpoint(Generic[M]):
    """The data of one endpoint family. Its Decoders are built once, here."""

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

    def __repr__(self) -> str:
        return f"<Endpoint {self.kind} {self.path}>"

    def item_path(self, model_id: str) -> str:
        return f"{self.path}/{encode_id(model_id)}"

    def decode_list(self, body: bytes) -> list[M]:
        items: list[M] = getattr(self.list_decoder.decode(body), self.envelope_field)
        return items

    def list_key(self) -> str:
        """The cache key of the list."""
        return f"{self.kind}:list"

    def item_key(self, model_id: str) -> str:
        """The cache key of one model."""
        return f"{self.kind}:get:{model_id}"

    def index(self, models: Sequence[M]) -> dict[str, M]:
        """Each listed model under its own get key: a cached list then answers a get."""
        return {self.item_key(model.id): model for model in models}


#: kind -> Endpoint, in the order the catalog fetches and shows them.
ENDPOINTS: dict[str, Endpoint[Any]] = {
    endpoint.kind: endpoint
    for endpoint in (
        Endpoint("models", "/v1/models", Model, "data"),
        Endpoint("language_models", "/v1/language-models", LanguageModel, "models"),
        Endpoint("image_generation_models", "/v1/image-generation-models",
                 ImageGenerationModel, "models"),
        Endpoint("video_generation_models", "/v1/video-generation-models",
                 VideoGenerationModel, "models"),
        Endpoint("embedding_models", "/v1/embedding-models", EmbeddingModel, "models"),
    )
}


def find_model(models: Sequence[T], name: str, *, kind: str, path: str,
               method: str = "resolve") -> T:
    """The model in ``models`` whose id, then alias, equals ``name``; else NotFoundError
    with close matches in ``suggestions``. Shared by ``Resource.resolve`` and
    ``Catalog.find``."""
    for model in models:
        if getattr(model, "id", None) == name:
            return model
    for model in models:
        if name in getattr(model, "aliases", ()):
            return model
    raise not_found(name, closest(name, models), kind=kind, path=path, method=method)


def closest(name: str, models: Sequence[Any], n: int = 5) -> tuple[str, ...]:
    """The ids and aliases in ``models`` most like ``name``, best first."""
    names = [x for m in models for x in (getattr(m, "id", ""), *getattr(m, "aliases", ()))]
    return tuple(difflib.get_close_matches(name, names, n=n, cutoff=0.5))


def not_found(name: str, suggestions: tuple[str, ...], *, kind: str, path: str,
              method: str) -> NotFoundError:
    """The NotFoundError that resolve() and Catalog.find() raise themselves."""
    hint = f"; did you mean: {', '.join(suggestions)}?" if suggestions else ""
    label = kind.replace("_", " ").rstrip("s")
    error = NotFoundError(
        f"no {label} has the id or alias {name!r}{hint}",
        status_code=404, code="not_found", method=method, path=path, from_server=False,
    )
    error.suggestions = suggestions
    return error
