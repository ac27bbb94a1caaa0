"""Client (d)'s types: pydantic v2 models written the way a pydantic user would.

Idiomatic pydantic (``list[str]``, default ``extra="ignore"``), not a mirror of the msgspec
Structs: (d) stands for "what people write with httpx + pydantic".
"""

from __future__ import annotations

from pydantic import BaseModel

__all__ = ["PydCapabilities", "PydLanguageList", "PydLanguageModel"]


class PydCapabilities(BaseModel):
    reasoning_effort: list[str] = []
    default_reasoning_effort: str | None = None


class PydLanguageModel(BaseModel):
    id: str
    fingerprint: str
    created: int
    object: str = "model"
    owned_by: str
    version: str
    input_modalities: list[str]
    output_modalities: list[str]
    prompt_text_token_price: int
    prompt_image_token_price: int
    completion_text_token_price: int
    aliases: list[str]
    cached_prompt_text_token_price: int | None = None
    search_price: int | None = None
    prompt_text_token_price_long_context: int | None = None
    cached_prompt_text_token_price_long_context: int | None = None
    completion_text_token_price_long_context: int | None = None
    long_context_threshold: int | None = None
    capabilities: PydCapabilities | None = None


class PydLanguageList(BaseModel):
    models: list[PydLanguageModel]
