"""``Catalog``: the four model lists in one immutable object, with offline queries."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from xai_models_async._errors import XAIError
from xai_models_async.types import (
    AnyModel,
    ImageGenerationModel,
    LanguageModel,
    Model,
    VideoGenerationModel,
)

__all__ = ["Catalog"]

Kind = Literal["models", "language_models", "image_generation_models", "video_generation_models"]
_KINDS: tuple[Kind, ...] = (
    "models", "language_models", "image_generation_models", "video_generation_models"
)


@dataclass(frozen=True, slots=True)
class Catalog:
    """What ``client.catalog()`` returns: the four lists, and the errors of the parts that
    failed when it was called with ``return_exceptions=True`` (keyed by kind, or by
    ``"kind:model_id"`` for a failed detail ``get``)."""

    models: tuple[Model, ...] = ()
    language_models: tuple[LanguageModel, ...] = ()
    image_generation_models: tuple[ImageGenerationModel, ...] = ()
    video_generation_models: tuple[VideoGenerationModel, ...] = ()
    errors: dict[str, XAIError] = field(default_factory=dict, compare=False)

    def __iter__(self) -> Iterator[AnyModel]:
        """Every model object, the typed lists first (language, image, video), then the
        ``/v1/models`` entries."""
        yield from self.language_models
        yield from self.image_generation_models
        yield from self.video_generation_models
        yield from self.models

    def __len__(self) -> int:
        return (len(self.models) + len(self.language_models)
                + len(self.image_generation_models) + len(self.video_generation_models))

    def find(self, name: str, *, kind: Kind | None = None) -> AnyModel:
        """The model whose id, else whose alias, is ``name``, searching the typed lists
        before ``/v1/models`` (or only ``kind``). Raises ``NotFoundError`` with close
        matches."""
        from xai_models_async._resource import ENDPOINTS, find_model

        if not isinstance(name, str) or not name.strip():
            raise ValueError("name must be a non-empty string")
        kinds = (kind,) if kind is not None else (*_KINDS[1:], _KINDS[0])
        pool: list[Any] = [m for k in kinds for m in getattr(self, _check_kind(k))]
        path = ENDPOINTS[kinds[0]].path if kind is not None else "catalog"
        return find_model(pool, name, kind=kind or "models", path=path)  # type: ignore[no-any-return]

    def names(self) -> frozenset[str]:
        """Every id and alias in the catalog."""
        return frozenset(n for m in self for n in (m.id, *m.aliases))

    def with_input(self, modality: str) -> list[LanguageModel | ImageGenerationModel |
                                                  VideoGenerationModel]:
        """Models that accept ``modality`` (``"text"``, ``"image"``, ...) as input."""
        return [m for m in self._typed() if modality in m.input_modalities]

    def with_output(self, modality: str) -> list[LanguageModel | ImageGenerationModel |
                                                   VideoGenerationModel]:
        """Models that produce ``modality`` (``"text"``, ``"image"``, ``"video"``)."""
        return [m for m in self._typed() if modality in m.output_modalities]

    def cheapest(self, *, input: str = "text", output: str = "text") -> LanguageModel | None:
        """The language model with the lowest prompt + completion text price among those
        that take ``input`` and produce ``output``; None when none does."""
        candidates = [
            m for m in self.language_models
            if input in m.input_modalities and output in m.output_modalities
        ]
        if not candidates:
            return None
        return min(candidates, key=_text_price)

    def _typed(self) -> Iterator[LanguageModel | ImageGenerationModel | VideoGenerationModel]:
        yield from self.language_models
        yield from self.image_generation_models
        yield from self.video_generation_models


def _text_price(model: LanguageModel) -> tuple[Decimal, str]:
    return (Decimal(model.prompt_text_token_price + model.completion_text_token_price), model.id)


def _check_kind(kind: str) -> str:
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {', '.join(_KINDS)}; got {kind!r}")
    return kind
