"""Catalog data for the fake server: the packaged examples, synthetic catalogs, validation."""

from __future__ import annotations

import functools
import os
import random
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import msgspec

#: The top-level keys of a catalog, one per endpoint family.
FAMILIES: tuple[str, ...] = (
    "models",
    "language_models",
    "image_generation_models",
    "video_generation_models",
    "embedding_models",
)


@functools.cache
def _packaged_bytes() -> bytes:
    return resources.files("xai_models_async.testing").joinpath("catalog.json").read_bytes()


def default_catalog() -> dict[str, list[dict[str, Any]]]:
    """The example models of xAI's API reference and OpenAPI file, as a fresh dict on
    every call.

    Keys: ``"models"`` (the six ``/v1/models`` entries), ``"language_models"``
    (``grok-3``, ``grok-3-mini``, ``grok-2-vision-1212`` and ``grok-4-0709``),
    ``"image_generation_models"`` (``grok-imagine-image``) and
    ``"video_generation_models"`` (``grok-imagine-video``), from the reference page; and
    ``"embedding_models"`` (``v1``), from the OpenAPI file in xAI's TypeScript SDK, as
    the reference page has no embedding endpoints. Each object is exactly its document's
    example, so it also shows the documents' quirks (the image model has no
    ``image_price``; ``grok-2-vision-1212`` has no ``search_price``; ``v1`` has no
    ``output_modalities``). ``v1`` is the list example: the OpenAPI file's get example is
    the same id with another price and no ``fingerprint``, and one id serves one object,
    so ``/v1/embedding-models/v1`` answers the list's object. Mutating the result is
    safe: it is a deep copy.
    """
    data: dict[str, list[dict[str, Any]]] = msgspec.json.decode(_packaged_bytes())
    return data


def make_catalog(n_language_models: int, *, seed: int = 0) -> dict[str, list[dict[str, Any]]]:
    """A synthetic catalog of ``n_language_models`` realistic language models.

    Ids are ``grok-bench-00000``, ``grok-bench-00001``, ...; aliases, prices, modalities,
    fingerprints and creation times vary, and some models carry the live-only long-context
    prices and ``capabilities``. ``"models"`` mirrors the language models (same ids,
    ``created`` and ``owned_by``); the image, video and embedding lists are empty. The same
    ``seed`` always gives the same catalog. Meant for load tests and benchmarks.
    """
    if isinstance(n_language_models, bool) or not isinstance(n_language_models, int):
        raise ValueError(f"n_language_models must be an int, got {n_language_models!r}")
    if n_language_models < 0:
        raise ValueError(f"n_language_models must be >= 0, got {n_language_models}")
    rng = random.Random(seed)
    language: list[dict[str, Any]] = []
    for i in range(n_language_models):
        model_id = f"grok-bench-{i:05d}"
        vision = rng.random() < 0.3
        prompt_price = rng.choice((2_000, 3_000, 20_000, 30_000, 50_000))
        alias_count = rng.choice((0, 1, 1, 2))
        model: dict[str, Any] = {
            "id": model_id,
            "fingerprint": f"fp_{rng.getrandbits(40):010x}",
            # Whole days, like the real catalog's creation times.
            "created": 1_700_006_400 + 86_400 * rng.randrange(0, 700),
            "object": "model",
            "owned_by": "xai",
            "version": rng.choice(("1.0", "1.0.0", "0.1.0", "2.1")),
            "input_modalities": ["text", "image"] if vision else ["text"],
            "output_modalities": ["text"],
            "prompt_text_token_price": prompt_price,
            "cached_prompt_text_token_price": prompt_price // 4,
            "prompt_image_token_price": prompt_price if vision else 0,
            "completion_text_token_price": prompt_price * rng.choice((2, 4, 5)),
            "search_price": 250_000_000,
            "aliases": [f"{model_id}-latest", f"{model_id}-beta"][:alias_count],
        }
        if rng.random() < 0.25:
            model["long_context_threshold"] = 128_000
            model["prompt_text_token_price_long_context"] = prompt_price * 2
            model["cached_prompt_text_token_price_long_context"] = prompt_price // 2
            model["completion_text_token_price_long_context"] = (
                model["completion_text_token_price"] * 2
            )
        if rng.random() < 0.3:
            model["capabilities"] = {
                "reasoning_effort": ["low", "high"],
                "default_reasoning_effort": "low",
            }
        language.append(model)
    return {
        "models": [
            {"id": m["id"], "created": m["created"], "object": "model", "owned_by": m["owned_by"]}
            for m in language
        ],
        "language_models": language,
        "image_generation_models": [],
        "video_generation_models": [],
        "embedding_models": [],
    }


def load_catalog(
    catalog: Mapping[str, Sequence[Mapping[str, Any]]] | str | os.PathLike[str] | None,
) -> dict[str, list[dict[str, Any]]]:
    """Validate ``catalog`` and return a private deep copy of it (``None``: the default).

    A family missing from the mapping is served as an empty list; an unknown key is an
    error, since it is almost always a typo (``"language-models"``).
    """
    if catalog is None:
        return default_catalog()
    source = "catalog"
    if isinstance(catalog, (str, os.PathLike)):
        source = f"catalog file {os.fspath(catalog)!r}"
        try:
            with open(catalog, "rb") as f:
                raw = f.read()
        except OSError as exc:
            raise ValueError(f"cannot read {source}: {exc}") from None
        try:
            parsed: object = msgspec.json.decode(raw)
        except msgspec.DecodeError as exc:
            raise ValueError(f"{source} is not valid JSON: {exc}") from None
    else:
        parsed = catalog
    if not isinstance(parsed, Mapping):
        raise ValueError(
            f"{source} must be a mapping with keys {list(FAMILIES)}, got {type(parsed).__name__}"
        )
    unknown = [key for key in parsed if key not in FAMILIES]
    if unknown:
        raise ValueError(
            f"{source} has unknown key(s) {unknown!r}; expected some of {list(FAMILIES)}"
        )
    result: dict[str, list[dict[str, Any]]] = {}
    for family in FAMILIES:
        entries = parsed.get(family, [])
        if isinstance(entries, (str, bytes, Mapping)) or not isinstance(entries, Sequence):
            raise ValueError(
                f"{source}[{family!r}] must be a list of model objects, "
                f"got {type(entries).__name__}"
            )
        seen: set[str] = set()
        for index, entry in enumerate(entries):
            where = f"{source}[{family!r}][{index}]"
            if not isinstance(entry, Mapping):
                raise ValueError(f"{where} must be an object, got {type(entry).__name__}")
            if "id" not in entry:
                raise ValueError(f'{where} is missing "id"')
            model_id = entry["id"]
            if not isinstance(model_id, str) or not model_id:
                raise ValueError(f'{where} has an invalid "id" {model_id!r}: need a non-empty str')
            if model_id in seen:
                raise ValueError(f"{where} repeats the id {model_id!r}")
            seen.add(model_id)
        try:
            # An encode/decode round trip both proves the objects are JSON-able and makes
            # the deep copy, so later changes to the caller's dicts cannot leak in.
            result[family] = msgspec.json.decode(msgspec.json.encode([dict(e) for e in entries]))
        except (TypeError, msgspec.EncodeError) as exc:
            raise ValueError(f"{source}[{family!r}] is not JSON-encodable: {exc}") from None
    return result


class EncodedCatalog:
    """A catalog with every response body encoded once, so answering is a dict lookup."""

    __slots__ = ("data", "lists", "objects")

    def __init__(self, data: dict[str, list[dict[str, Any]]]) -> None:
        self.data = data
        self.lists: dict[str, bytes] = {}
        self.objects: dict[str, dict[str, bytes]] = {}
        for family in FAMILIES:
            entries = data[family]
            envelope: dict[str, Any] = (
                {"object": "list", "data": entries} if family == "models" else {"models": entries}
            )
            self.lists[family] = msgspec.json.encode(envelope)
            self.objects[family] = {e["id"]: msgspec.json.encode(e) for e in entries}
