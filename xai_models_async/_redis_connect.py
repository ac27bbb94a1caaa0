"""How ``RedisCache`` gets (and closes) its ``redis.asyncio`` client; the password is kept
out of sight.

The ``redis`` package (the optional extra ``[redis]``) is imported here only when a
``RedisCache`` is built, never when this module is, so ``import xai_models_async`` does not
need it. A Redis URL may carry a password (in the authority or as ``password=``): it is
replaced by ``***`` in every message and ``repr`` that shows the URL.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from xai_models_async._redis_guard import deadline

__all__ = ["Connection", "connect", "disconnect", "redact_url", "scrub"]

logger = logging.getLogger("xai_models_async")

_INSTALL_HINT = (
    "RedisCache needs the redis package (redis-py >= 5): "
    "pip install 'xai-models-async[redis]'"
)


class Connection(NamedTuple):
    client: Any  # redis.asyncio.Redis
    #: The client for messages: the URL without its password, or that it was given.
    where: str
    #: Whether the cache built the client (and so closes it).
    owned: bool
    #: The exceptions that mean Redis trouble.
    errors: tuple[type[BaseException], ...]
    #: redis.exceptions.ResponseError (an error reply, WRONGTYPE included).
    response_error: type[BaseException]


def import_redis() -> tuple[Any, tuple[type[BaseException], ...]]:
    """``redis.asyncio`` and the exceptions that mean Redis trouble, or the ImportError
    that says how to install them."""
    try:
        import redis
        import redis.asyncio
        import redis.exceptions
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    major = str(getattr(redis, "__version__", "0")).split(".", 1)[0]
    if not major.isdigit() or int(major) < 5:
        raise ImportError(f"{_INSTALL_HINT} (found redis {redis.__version__})")
    errors: tuple[type[BaseException], ...] = (
        redis.exceptions.RedisError,
        OSError,  # ConnectionResetError and friends that slip through
        TimeoutError,
        asyncio.TimeoutError,
    )
    return redis.asyncio, errors


def connect(redis: object, timeout: float) -> Connection:
    """A client for ``redis``, a Redis URL (the client is built, with socket and connect
    timeouts of ``timeout``) or a ``redis.asyncio.Redis`` (checked, used as it is)."""
    aioredis, errors = import_redis()
    import redis.exceptions as redis_exceptions

    if isinstance(redis, str):
        if not redis.strip():
            raise ValueError("redis: the Redis URL is empty")
        where = redact_url(redis)
        try:
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            # One immediate retry, on a new connection: after Redis restarts (or drops
            # idle connections) the first command on each pooled connection fails.
            # The deadline of ``timeout`` still bounds the whole operation.
            client = aioredis.Redis.from_url(
                redis,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 1),
                # redis-py 5 retries only the errors listed here.
                retry_on_error=[redis_exceptions.ConnectionError],
            )
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"redis: not a usable Redis URL {where}: {scrub(str(exc), redis)}"
            ) from None
        return Connection(client, where, True, errors, redis_exceptions.ResponseError)
    if not isinstance(redis, aioredis.Redis):
        raise TypeError(
            "redis must be a Redis URL (str) or a redis.asyncio.Redis client, got "
            f"{type(redis).__module__}.{type(redis).__name__} (the asyncio client "
            "is needed; redis.asyncio.RedisCluster is not supported)"
        )
    kwargs = getattr(redis.connection_pool, "connection_kwargs", {})
    if kwargs.get("decode_responses"):
        raise ValueError(
            "redis: the client decodes responses (decode_responses=True), but "
            "cache entries are binary; pass a client with decode_responses=False"
        )
    where = "(a given redis.asyncio client)"
    return Connection(redis, where, False, errors, redis_exceptions.ResponseError)


async def disconnect(client: Any, timeout: float) -> None:
    """Close a client that ``connect`` built, within ``timeout``; never raises (but the
    caller's cancellation)."""
    try:
        async with deadline(timeout):
            close = getattr(client, "aclose", None) or client.close
            await close()
            await client.connection_pool.disconnect()
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # closing must not fail either
        logger.debug("closing the Redis client failed: %r", exc)


def redact_url(url: str) -> str:
    """The URL with its password (in the authority or a ``password=`` query item)
    replaced by ``***``."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            user, sep, _password = userinfo.partition(":")
            netloc = f"{user}:***@{hostport}" if sep else f"{userinfo}@{hostport}"
        query = parts.query
        if query:
            items = parse_qsl(query, keep_blank_values=True)
            query = urlencode(
                [(k, "***" if "pass" in k.lower() else v) for k, v in items], safe="*"
            )
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return "<a Redis URL that does not parse>"


def scrub(message: str, url: str) -> str:
    """``message`` without the password of ``url`` in it."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    return message.replace(password, "***") if password else message
