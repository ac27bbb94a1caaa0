"""``Catalog``: every model list in one immutable object, with offline queries.

A catalog is meant to be fetched once (``await client.catalog()``, cached or refreshed on a
timer) and then asked on every request, with no I/O: ``find`` is a dict lookup, built on
first use per kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from xai_models_async._changes import CatalogChange, diff_lists
from xai_models_async._endpoints import ENDPOINTS, find_model
from xai_models_async._errors import APIError, XAIError
from xai_models_async._prices import check_count
from xai_models_async.types import (
    AnyModel,
    EmbeddingModel,
    ImageGenerationModel,
    LanguageModel,
    Model,
    VideoGenerationModel,
)

__all__ = ["Catalog"]

Kind = Literal["models", "language_models", "image_generation_models",
               "video_generation_models", "embedding_models"]
_KINDS: tuple[Kind, ...] = (
    "models", "language_models", "image_generation_models", "video_generation_models",
    "embedding_models",
)
_TYPED_KINDS: tuple[Kind, ...] = _KINDS[1:]
# The order ``find`` and ``__iter__`` search: the typed lists first (their objects carry
# modalities and prices), ``/v1/models`` last.
_SEARCH_ORDER: tuple[Kind, ...] = (*_KINDS[1:], _KINDS[0])

TypedModel = LanguageModel | ImageGenerationModel | VideoGenerationModel | EmbeddingModel


@dataclass(frozen=True, slots=True)
class Catalog:
    """What ``client.catalog()`` returns: the five lists, and the errors of the parts that
    failed when it was called with ``return_exceptions=True`` (keyed by kind, or by
    ``"kind:model_id"`` for a failed detail ``get``). ``stale`` names the parts served
    from a stale cache entry because refreshing them failed (``stale_if_error``), each
    with the error of that refresh; ``is_stale`` says whether there is any.

    Every query is offline. ``find`` resolves an id or alias; ``with_input`` /
    ``with_output`` filter by modality; ``cheapest`` ranks language models by price;
    ``names`` and ``aliases`` list what may go in a request's ``model`` field.
    """

    models: tuple[Model, ...] = ()
    language_models: tuple[LanguageModel, ...] = ()
    image_generation_models: tuple[ImageGenerationModel, ...] = ()
    video_generation_models: tuple[VideoGenerationModel, ...] = ()
    embedding_models: tuple[EmbeddingModel, ...] = ()
    errors: dict[str, XAIError] = field(default_factory=dict, compare=False)
    stale: dict[str, APIError] = field(default_factory=dict, compare=False)
    # kind (None: all kinds) -> name -> model; filled lazily by _index_for.
    _indexes: dict[Kind | None, dict[str, AnyModel]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        # Accept any iterable (a list from ``Resource.list``), store tuples: a Catalog must
        # not change after it was built, or its indexes would lie.
        for kind in _KINDS:
            value = getattr(self, kind)
            if not isinstance(value, tuple):
                object.__setattr__(self, kind, tuple(value))

    @property
    def is_stale(self) -> bool:
        """Whether any part is a stale cached answer standing in for a failed refresh."""
        return bool(self.stale)

    def __iter__(self) -> Iterator[AnyModel]:
        """Every model object, the typed lists first (language, image, video, embedding), then the
        ``/v1/models`` entries (so a model listed in both comes twice)."""
        for kind in _SEARCH_ORDER:
            yield from getattr(self, kind)

    def __len__(self) -> int:
        return sum(len(getattr(self, kind)) for kind in _KINDS)

    def __contains__(self, name: object) -> bool:
        """``"grok-3-latest" in catalog``: whether ``name`` is any model's id or alias."""
        return isinstance(name, str) and name in self._index_for(None)

    def find(self, name: str, *, kind: Kind | None = None) -> AnyModel:
        """The model whose id, else whose alias, is ``name`` (exact match).

        Searches the typed lists before ``/v1/models``, or only ``kind``. An id always wins
        over another model's alias. Raises ``NotFoundError`` whose ``suggestions`` hold the
        closest ids and aliases, and ``ValueError`` for an empty name or unknown kind.
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError("name must be a non-empty string")
        if kind is not None:
            check_kind(kind)
        hit = self._index_for(kind).get(name)
        if hit is not None:
            return hit
        kinds = (kind,) if kind is not None else _SEARCH_ORDER
        pool: list[Any] = [m for k in kinds for m in getattr(self, k)]
        path = ENDPOINTS[kind].path if kind is not None else "catalog"
        # Not found: find_model raises NotFoundError with the close matches.
        return find_model(pool, name, kind=kind or "models", path=path, method="find")  # type: ignore[no-any-return]

    def diff(self, other: Catalog, *, kinds: Iterable[Kind] | None = None
             ) -> list[CatalogChange]:
        """What changed from this catalog to ``other``: models added, removed and changed
        (with the fields that changed, prices in USD), per kind, matched by id. ``kinds``
        defaults to every kind but ``"models"`` (whose entries repeat the typed lists')."""
        wanted = _TYPED_KINDS if kinds is None else tuple(check_kind(k) for k in kinds)
        return [change for kind in wanted
                for change in diff_lists(kind, getattr(self, kind), getattr(other, kind))]

    def names(self) -> frozenset[str]:
        """Every id and alias in the catalog: what a request's ``model`` field accepts."""
        return frozenset(self._index_for(None))

    def aliases(self) -> dict[str, str]:
        """Each alias -> the id of the model ``find(alias)`` returns
        (``{"grok-3-latest": "grok-3", ...}``), in catalog order."""
        index = self._index_for(None)
        return {alias: index[alias].id for model in self for alias in model.aliases}

    def with_input(self, *modalities: str) -> list[TypedModel]:
        """Typed models (language, image, video, embedding, in that order) that accept every one of
        ``modalities`` as input: ``with_input("text", "image")`` are the models that take images.
        ``/v1/models`` entries carry no modalities and never match."""
        wanted = _check_modalities(modalities)
        return [m for m in self._typed() if wanted.issubset(m.input_modalities)]

    def with_output(self, *modalities: str) -> list[TypedModel]:
        """Typed models that produce every one of ``modalities`` (``"text"``, ``"image"``,
        ``"video"``)."""
        wanted = _check_modalities(modalities)
        return [m for m in self._typed() if wanted.issubset(m.output_modalities)]

    def cheapest(
        self,
        input: str | None = "text",
        output: str | None = "text",
        *,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        cached_prompt_tokens: int = 0,
        image_tokens: int = 0,
    ) -> LanguageModel | None:
        """The cheapest language model that takes ``input`` and produces ``output``
        (``None``: any), or ``None`` when no language model qualifies.

        "Cheapest" depends on the workload, so it can be given: with ``prompt_tokens``
        and/or ``completion_tokens`` (a missing one counts as 0), models are ranked by
        :meth:`LanguageModel.estimate_cost` of that usage (cached, image and long-context
        prices included). Without them, by the headline price: prompt + completion text
        price per 1M tokens (grok-3: $3 + $15). Ties go to the lower prompt price, then
        the smaller id, so the answer is deterministic.

        Only language models are ranked: image, video and embedding models are priced per
        image, per video or per embedded token, which a chat workload cannot compare.
        """
        candidates = [
            m for m in self.language_models
            if (input is None or input in m.input_modalities)
            and (output is None or output in m.output_modalities)
        ]
        if prompt_tokens is None and completion_tokens is None:
            if cached_prompt_tokens or image_tokens:
                raise ValueError(
                    "cached_prompt_tokens and image_tokens are parts of prompt_tokens: "
                    "give prompt_tokens too"
                )

            def cost(m: LanguageModel) -> Decimal:
                return Decimal(m.prompt_text_token_price + m.completion_text_token_price)
        else:
            usage = (
                check_count(0 if prompt_tokens is None else prompt_tokens, "prompt_tokens"),
                check_count(
                    0 if completion_tokens is None else completion_tokens, "completion_tokens"
                ),
                check_count(cached_prompt_tokens, "cached_prompt_tokens"),
                check_count(image_tokens, "image_tokens"),
            )
            if usage[2] + usage[3] > usage[0]:
                raise ValueError(
                    "cached_prompt_tokens and image_tokens are parts of prompt_tokens: "
                    f"{usage[2]} + {usage[3]} > {usage[0]}"
                )

            def cost(m: LanguageModel) -> Decimal:
                return m.estimate_cost(*usage)
        if not candidates:
            return None
        return min(candidates, key=lambda m: (cost(m), m.prompt_text_token_price, m.id))

    def _typed(self) -> Iterator[TypedModel]:
        yield from self.language_models
        yield from self.image_generation_models
        yield from self.video_generation_models
        yield from self.embedding_models

    def _index_for(self, kind: Kind | None) -> dict[str, AnyModel]:
        index = self._indexes.get(kind)
        if index is None:
            models: list[AnyModel] = list(getattr(self, kind) if kind is not None else self)
            index = {}
            for model in models:  # ids first: an id beats another model's alias
                index.setdefault(model.id, model)
            for model in models:
                for alias in model.aliases:
                    index.setdefault(alias, model)
            self._indexes[kind] = index
        return index


def _check_modalities(modalities: Iterable[str]) -> frozenset[str]:
    wanted = frozenset(modalities)
    if not wanted or not all(isinstance(m, str) and m for m in wanted):
        raise ValueError("give at least one modality, as a non-empty str (e.g. 'text')")
    return wanted


def check_kind(kind: str) -> Kind:
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {', '.join(_KINDS)}; got {kind!r}")
    return kind
