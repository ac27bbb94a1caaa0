"""Asyncio-first client for the xAI Models API.

::

    import xai_models_async as xm

    async with xm.AsyncClient() as client:          # key from $XAI_API_KEY
        models = await client.language_models.list()
        grok = await client.language_models.resolve("grok-4-latest")

Every name below is the public API; everything in a ``_module`` is private.
"""

from xai_models_async._cache import Cache, CacheEntry, Coordinated, MemoryCache
from xai_models_async._catalog import Catalog
from xai_models_async._changes import CatalogChange, FieldChange
from xai_models_async._client import AsyncClient
from xai_models_async._config import DEFAULT_BASE_URL, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT
from xai_models_async._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
    XAIError,
)
from xai_models_async._redis import RedisCache
from xai_models_async._resource import Resource
from xai_models_async._retry import RetryPolicy
from xai_models_async._version import __version__
from xai_models_async.types import (
    Capabilities,
    EmbeddingModel,
    ImageGenerationModel,
    LanguageModel,
    Model,
    PricingTier,
    VideoGenerationModel,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TIMEOUT",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "Cache",
    "CacheEntry",
    "Capabilities",
    "Catalog",
    "CatalogChange",
    "ClientClosedError",
    "ConflictError",
    "Coordinated",
    "EmbeddingModel",
    "FieldChange",
    "ImageGenerationModel",
    "InternalServerError",
    "LanguageModel",
    "MemoryCache",
    "Model",
    "NotFoundError",
    "PermissionDeniedError",
    "PricingTier",
    "RateLimitError",
    "RedisCache",
    "Resource",
    "RetryPolicy",
    "UnprocessableEntityError",
    "VideoGenerationModel",
    "XAIError",
    "__version__",
]
