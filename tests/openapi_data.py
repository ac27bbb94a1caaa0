"""xAI's OpenAPI example bodies and schema facts, from tests/data/openapi_examples.json.

That file is hand-extracted from the OpenAPI file in xAI's TypeScript SDK (see its
``_source`` and tests/data/README.md). Where the OpenAPI file and the reference page
differ, the live service follows the OpenAPI file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PATH = Path(__file__).resolve().parent / "data" / "openapi_examples.json"


def _load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(PATH.read_text(encoding="utf-8"))
    return data


def openapi_examples() -> dict[str, Any]:
    """``"GET /v1/...": body`` for every models operation; a fresh copy on every call."""
    examples: dict[str, Any] = _load()["examples"]
    return examples


def openapi_schemas() -> dict[str, Any]:
    """Schema name -> ``{"required": [...], "properties": [...], "descriptions": {...}}``."""
    schemas: dict[str, Any] = _load()["schemas"]
    return schemas


def language_model_example(model_id: str) -> dict[str, Any]:
    """One object of the ``GET /v1/language-models`` example, by id."""
    models: list[dict[str, Any]] = openapi_examples()["GET /v1/language-models"]["models"]
    return next(m for m in models if m["id"] == model_id)
