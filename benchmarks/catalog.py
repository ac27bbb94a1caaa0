"""A deterministic synthetic xAI catalog: thousands of realistic language models.

Objects follow the reference page plus the live-only fields from NOTES.md, with the same
irregularity the live service shows (optional prices missing on some models, long-context
prices and ``capabilities`` on others), so decoders exercise their optional-field paths and
not only the happy one.

Every response body is encoded here once; the server only looks bytes up.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Catalog", "build_catalog", "language_model_id"]

_OWNERS = ("xai",)
_BASE_CREATED = 1_733_961_600  # 2024-12-12, the oldest created stamp in xAI's examples


def language_model_id(index: int) -> str:
    """The id of the ``index``-th synthetic language model: ``grok-bench-00042``."""
    return f"grok-bench-{index:05d}"


@dataclass(frozen=True)
class Catalog:
    """Pre-encoded JSON bodies keyed by request path (``/v1/language-models/grok-...``)."""

    language_model_ids: tuple[str, ...]
    bodies: dict[str, bytes] = field(repr=False)

    def body(self, path: str) -> bytes:
        return self.bodies[path]


def _language_model(rng: random.Random, index: int) -> dict[str, Any]:
    model_id = language_model_id(index)
    vision = rng.random() < 0.3
    prompt = rng.choice((2_000, 3_000, 20_000, 30_000, 50_000))
    obj: dict[str, Any] = {
        "id": model_id,
        "fingerprint": f"fp_{rng.getrandbits(40):010x}",
        "created": _BASE_CREATED + rng.randrange(0, 40_000_000),
        "object": "model",
        "owned_by": rng.choice(_OWNERS),
        "version": f"1.{rng.randrange(0, 4)}.{rng.randrange(0, 10)}",
        "input_modalities": ["text", "image"] if vision else ["text"],
        "output_modalities": ["text"],
        "prompt_text_token_price": prompt,
        "cached_prompt_text_token_price": prompt // 4,
        "prompt_image_token_price": prompt if vision else 0,
        "completion_text_token_price": prompt * 5,
        "search_price": 250_000_000,
        "aliases": [f"{model_id}-latest", f"{model_id}-beta"][: rng.randrange(0, 3)],
    }
    # Like grok-2-vision-1212 in the reference: some models omit the "required" cached and
    # search prices, so the optional-field path is part of every decode.
    if rng.random() < 0.05:
        del obj["cached_prompt_text_token_price"]
        del obj["search_price"]
    if rng.random() < 0.25:
        obj["prompt_text_token_price_long_context"] = prompt * 2
        obj["cached_prompt_text_token_price_long_context"] = prompt // 2
        obj["completion_text_token_price_long_context"] = prompt * 10
        obj["long_context_threshold"] = 128_000
    if rng.random() < 0.3:
        obj["capabilities"] = {
            "reasoning_effort": ["low", "high"],
            "default_reasoning_effort": "low",
        }
    return obj


# The fields the live /v1/models objects may carry on top of the four documented ones.
_MODEL_VIEW_FIELDS = (
    "id",
    "created",
    "object",
    "owned_by",
    "aliases",
    "prompt_text_token_price",
    "cached_prompt_text_token_price",
    "prompt_image_token_price",
    "completion_text_token_price",
    "search_price",
    "prompt_text_token_price_long_context",
    "cached_prompt_text_token_price_long_context",
    "completion_text_token_price_long_context",
    "long_context_threshold",
    "capabilities",
)


def _model_view(language_model: dict[str, Any]) -> dict[str, Any]:
    """The ``/v1/models`` shape of a language model (no fingerprint, version, modalities)."""
    return {k: language_model[k] for k in _MODEL_VIEW_FIELDS if k in language_model}


def _image_models() -> list[dict[str, Any]]:
    return [
        {
            "id": f"grok-bench-image-{i}",
            "fingerprint": f"fp_ca78641a5{i}",
            "max_prompt_length": 1024,
            "created": _BASE_CREATED + i,
            "object": "model",
            "owned_by": "xai",
            "version": "1.0.0",
            "input_modalities": ["text"],
            "output_modalities": ["image"],
            "image_price": 700,
            "prompt_text_token_price": 100_000,
            "prompt_image_token_price": 100_000,
            "generated_image_token_price": 100_000,
            "pricing": [
                {"quality": "standard", "resolution": "1024x1024", "price_per_image": 700},
                {"quality": "hd", "resolution": "1024x1024", "price_per_image": 1400},
            ],
            "aliases": [],
        }
        for i in range(3)
    ]


def _video_models() -> list[dict[str, Any]]:
    return [
        {
            "id": f"grok-bench-video-{i}",
            "fingerprint": f"fp_898ae9f3{i}c",
            "created": _BASE_CREATED + i,
            "object": "model",
            "owned_by": "xai",
            "version": "1.0",
            "input_modalities": ["text", "image"],
            "output_modalities": ["video"],
            "aliases": [],
        }
        for i in range(2)
    ]


def _embedding_models() -> list[dict[str, Any]]:
    # Schema ``EmbeddingModel`` of xAI's OpenAPI file: a small family, like the live one.
    return [
        {
            "id": f"grok-bench-embed-{i}",
            "fingerprint": f"fp_e5b1d0c7{i}a",
            "created": _BASE_CREATED + i,
            "object": "model",
            "owned_by": "xai",
            "version": "1.0",
            "input_modalities": ["text", "image"] if i else ["text"],
            "output_modalities": ["embedding"],
            "prompt_text_token_price": 100,
            "prompt_image_token_price": 100 if i else 0,
            "aliases": [f"grok-bench-embed-{i}-latest"],
        }
        for i in range(2)
    ]


def _dumps(obj: Any) -> bytes:
    # Compact separators: what a production JSON API sends.
    return json.dumps(obj, separators=(",", ":")).encode()


def build_catalog(n_language_models: int = 2000, seed: int = 20240601) -> Catalog:
    """Build and encode every body of the ten endpoints for ``n_language_models`` models.

    ``/v1/models`` deliberately lists exactly the language models (in their ``/v1/models``
    shape), not the few image, video and embedding models: openai-python can only reach that
    endpoint, and its list row must decode the same number of objects as everyone else's.
    """
    rng = random.Random(seed)
    language = [_language_model(rng, i) for i in range(n_language_models)]
    images = _image_models()
    videos = _video_models()
    embeddings = _embedding_models()
    bodies: dict[str, bytes] = {
        "/v1/models": _dumps({"data": [_model_view(m) for m in language], "object": "list"}),
        "/v1/language-models": _dumps({"models": language}),
        "/v1/image-generation-models": _dumps({"models": images}),
        "/v1/video-generation-models": _dumps({"models": videos}),
        "/v1/embedding-models": _dumps({"models": embeddings}),
    }
    for m in language:
        bodies[f"/v1/language-models/{m['id']}"] = _dumps(m)
        bodies[f"/v1/models/{m['id']}"] = _dumps(_model_view(m))
    for m in images:
        bodies[f"/v1/image-generation-models/{m['id']}"] = _dumps(m)
        bodies[f"/v1/models/{m['id']}"] = _dumps(_model_view(m))
    for m in videos:
        bodies[f"/v1/video-generation-models/{m['id']}"] = _dumps(m)
        bodies[f"/v1/models/{m['id']}"] = _dumps(_model_view(m))
    for m in embeddings:
        bodies[f"/v1/embedding-models/{m['id']}"] = _dumps(m)
        bodies[f"/v1/models/{m['id']}"] = _dumps(_model_view(m))
    return Catalog(language_model_ids=tuple(m["id"] for m in language), bodies=bodies)
