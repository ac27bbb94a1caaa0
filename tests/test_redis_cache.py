"""RedisCache against a real redis-server (tests/redis_server.py): sharing, encoding
safety, cross-process single-flight, and Redis trouble (killed, restarted, blackholed,
OOM, read-only) that never reaches the caller.

"Two processes" are two RedisCache instances with two separate redis clients. The
circuit runs on an injected clock, so no test waits for a retry interval; the only real
waits are a lock's expiry of 0.3 s and timeouts of 0.1 s.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import pickle
import socket
import subprocess
import sys
import time
import types as pytypes
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import pytest_asyncio
import redis
import redis.asyncio as aioredis

from tests.conftest import spec_examples
from tests.redis_server import (  # noqa: F401 - fixtures
    RedisServer,
    redis_prefix,
    redis_server,
    redis_url,
)
from tests.test_cache import Clock
from xai_models_async import types as model_types
from xai_models_async._cache import CacheEntry, Coordinated
from xai_models_async._redis import RedisCache
from xai_models_async._redis_codec import (
    _CLASSES,
    _FORMAT_VERSION,
    _MAGIC,
    _decoder_for,
    _struct_classes,
    decode_entry,
    encode_entry,
)

LOGGER = "xai_models_async"
KEY = "3fa9c0d1e2b4a6f8:language_models:get:grok-3"
LIST_KEY = "3fa9c0d1e2b4a6f8:language_models:list"


# --- samples of every cacheable type -----------------------------------------------------


def _sample_of(info: msgspec.inspect.Type, depth: int = 0) -> Any:
    """A value of the type ``info`` describes, with every optional part filled in."""
    mi = msgspec.inspect
    if isinstance(info, mi.UnionType):
        for option in info.types:
            if not isinstance(option, mi.NoneType):
                return _sample_of(option, depth)
        return None
    if isinstance(info, mi.StrType):
        return f"s{depth}"
    if isinstance(info, mi.BoolType):
        return True
    if isinstance(info, mi.IntType):
        return 12345678901 + depth
    if isinstance(info, mi.FloatType):
        return 0.5 + depth
    if isinstance(info, (mi.VarTupleType, mi.ListType, mi.SetType, mi.FrozenSetType)):
        return [_sample_of(info.item_type, depth + 1), _sample_of(info.item_type, depth + 2)]
    if isinstance(info, mi.StructType):
        return {f.encode_name: _sample_of(f.type, depth + 1) for f in info.fields}
    if isinstance(info, mi.NoneType):
        return None
    raise NotImplementedError(f"no sample for {info!r}: extend _sample_of")


def full_sample(cls: type[msgspec.Struct]) -> msgspec.Struct:
    """An instance of ``cls`` with every field set (also for Structs added later)."""
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    return msgspec.convert(_sample_of(info), cls)


def spec_samples() -> dict[type, list[Any]]:
    """The reference's example objects, decoded as the client decodes them."""
    ex = spec_examples()
    return {
        model_types.Model: [msgspec.convert(m, model_types.Model) for m in ex[0]["data"]],
        model_types.LanguageModel: [
            msgspec.convert(m, model_types.LanguageModel) for m in ex[2]["models"]
        ],
        model_types.ImageGenerationModel: [
            msgspec.convert(m, model_types.ImageGenerationModel) for m in ex[4]["models"]
        ],
        model_types.VideoGenerationModel: [
            msgspec.convert(m, model_types.VideoGenerationModel) for m in ex[6]["models"]
        ],
    }


def all_values() -> list[tuple[str, Any]]:
    """(id, value) of every cacheable shape: one of each type, a list of each, []."""
    values: list[tuple[str, Any]] = []
    for name, cls in sorted(_CLASSES.items()):
        one = full_sample(cls)
        values.append((name, one))
        values.append((f"list:{name}", [one, full_sample(cls)]))
    for cls, items in spec_samples().items():
        values.append((f"spec:{cls.__name__}", items[0]))
        values.append((f"spec:list:{cls.__name__}", items))
    values.append(("empty list", []))
    return values


VALUES = all_values()
LANG = spec_samples()[model_types.LanguageModel][0]


def assert_same(got: Any, want: Any) -> None:
    """Equal, and of exactly the same types (a list of exactly the same Struct class)."""
    assert type(got) is type(want)
    assert got == want
    if isinstance(want, list):
        assert [type(g) for g in got] == [type(w) for w in want]


def entry(value: Any = LANG, fresh_for: float = 60.0) -> CacheEntry:
    return CacheEntry(value=value, fresh_until=time.time() + fresh_for)


def warnings_of(caplog: pytest.LogCaptureFixture, text: str = "") -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == LOGGER and r.levelno == logging.WARNING and text in r.getMessage()
    ]


def leftover_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


# --- fixtures ---------------------------------------------------------------------------


@pytest_asyncio.fixture
async def cache(redis_url: str, redis_prefix: str) -> AsyncIterator[RedisCache]:  # noqa: F811
    async with RedisCache(redis_url, prefix=redis_prefix) as c:
        yield c


@pytest_asyncio.fixture
async def other(redis_url: str, redis_prefix: str) -> AsyncIterator[RedisCache]:  # noqa: F811
    """A second instance on a second client: another process, as far as Redis can tell."""
    async with RedisCache(redis_url, prefix=redis_prefix) as c:
        yield c


@pytest_asyncio.fixture
async def raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:  # noqa: F811
    """A plain client, to look at and tamper with what RedisCache stored."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A port where connections are accepted (by the kernel) and never answered."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


# --- encoding (no Redis) ------------------------------------------------------------------


def test_registry_is_every_struct_named_in_types_all() -> None:
    expected = {
        name
        for name in model_types.__all__
        if isinstance(getattr(model_types, name), type)
        and issubclass(getattr(model_types, name), msgspec.Struct)
    }
    assert set(_CLASSES) == expected
    assert {"Model", "LanguageModel", "ImageGenerationModel", "VideoGenerationModel"} <= expected


def test_registry_picks_up_a_struct_added_to_all() -> None:
    module = pytypes.ModuleType("fake_types")

    class EmbeddingModel(msgspec.Struct, frozen=True):
        id: str

    class NotExported(msgspec.Struct):
        id: str

    module.EmbeddingModel = EmbeddingModel  # type: ignore[attr-defined]
    module.NotExported = NotExported  # type: ignore[attr-defined]
    module.helper = len  # type: ignore[attr-defined]
    module.__all__ = ["EmbeddingModel", "helper"]  # type: ignore[attr-defined]
    assert _struct_classes(module) == {"EmbeddingModel": EmbeddingModel}


@pytest.mark.parametrize(("name", "value"), VALUES, ids=[v[0] for v in VALUES])
def test_encoding_round_trip(name: str, value: Any) -> None:
    data = encode_entry(CacheEntry(value=value, fresh_until=1234.5))
    got = decode_entry(data)
    assert isinstance(got, CacheEntry)
    assert got.fresh_until == 1234.5
    assert_same(got.value, value)


def test_envelope_layout() -> None:
    data = encode_entry(CacheEntry(value=[LANG], fresh_until=7.0))
    magic, version, tag, fresh_until, payload = msgspec.msgpack.decode(data)
    assert (magic, version, fresh_until) == (_MAGIC, _FORMAT_VERSION, 7.0)
    assert tag == "list:LanguageModel"
    assert payload[0]["id"] == LANG.id
    assert msgspec.msgpack.decode(encode_entry(CacheEntry(value=[], fresh_until=0)))[2] == "list"


def test_decoders_are_built_once() -> None:
    assert _decoder_for("LanguageModel") is _decoder_for("LanguageModel")
    assert _decoder_for("list:LanguageModel") is _decoder_for("list:LanguageModel")
    assert _decoder_for("NoSuchModel") is None
    assert _decoder_for("list:NoSuchModel") is None


class Subclassed(model_types.LanguageModel, frozen=True, kw_only=True):
    pass


@pytest.mark.parametrize(
    "value",
    [
        {"id": "grok-3"},
        (LANG,),
        [LANG, full_sample(model_types.Model)],
        [LANG, None],
        None,
        "grok-3",
        Subclassed(**msgspec.structs.asdict(LANG)),  # exact classes only
    ],
    ids=["dict", "tuple", "mixed list", "list with None", "None", "str", "subclass"],
)
def test_only_model_structs_are_stored(value: Any) -> None:
    with pytest.raises(TypeError, match="model Struct"):
        encode_entry(CacheEntry(value=value, fresh_until=1.0))


def test_encode_checks_the_entry() -> None:
    with pytest.raises(TypeError, match="CacheEntry"):
        encode_entry(LANG)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="fresh_until"):
        encode_entry(CacheEntry(value=LANG, fresh_until="soon"))


class Boom:
    """Unpickling this runs ``os.mkdir(flag)``: proof that something was executed."""

    def __init__(self, flag: Path) -> None:
        self.flag = flag

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.flag),))


def foreign_values(flag: Path) -> dict[str, bytes]:
    """Values someone else could leave under our keys, with the reason each is refused."""
    enc = msgspec.msgpack.encode
    lang = msgspec.to_builtins(LANG)
    image = msgspec.to_builtins(spec_samples()[model_types.ImageGenerationModel][0])
    return {
        "garbage": b"\x00\xff\xfe garbage \x81\x82",
        "empty": b"",
        "pickle": pickle.dumps(Boom(flag)),
        "json of another type": json.dumps({"object": "list", "data": [1, 2]}).encode(),
        "json of a model": json.dumps(lang).encode(),
        "bare msgpack model": enc(lang),
        "unknown tag": enc([_MAGIC, _FORMAT_VERSION, "os.system", 1.0, lang]),
        "unknown list tag": enc([_MAGIC, _FORMAT_VERSION, "list:Popen", 1.0, [lang]]),
        "future version": enc([_MAGIC, _FORMAT_VERSION + 1, "LanguageModel", 1.0, lang]),
        "older version": enc([_MAGIC, 0, "LanguageModel", 1.0, lang]),
        "future envelope shape": enc([_MAGIC, _FORMAT_VERSION + 1, {"tag": "x"}]),
        "another magic": enc(["pickle", _FORMAT_VERSION, "LanguageModel", 1.0, lang]),
        "payload of another type": enc([_MAGIC, _FORMAT_VERSION, "LanguageModel", 1.0, image]),
        "list payload under a one-model tag": enc(
            [_MAGIC, _FORMAT_VERSION, "LanguageModel", 1.0, [lang]]
        ),
        "non-empty payload under the empty-list tag": enc(
            [_MAGIC, _FORMAT_VERSION, "list", 1.0, [lang]]
        ),
        "truncated": encode_entry(entry())[:-7],
    }


def test_the_pickle_payload_is_live(tmp_path: Path) -> None:
    """Guard for the tests below: this payload does run code when unpickled."""
    flag = tmp_path / "proof"
    pickle.loads(pickle.dumps(Boom(flag)))
    assert flag.is_dir()


@pytest.mark.parametrize("name", list(foreign_values(Path("x"))))
def test_foreign_bytes_decode_to_a_reason(name: str, tmp_path: Path) -> None:
    flag = tmp_path / "executed"
    got = decode_entry(foreign_values(flag)[name])
    assert isinstance(got, str), got
    assert not flag.exists()


# --- construction ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"prefix": ""}, ValueError, "prefix"),
        ({"prefix": b"x:"}, TypeError, "prefix"),
        ({"timeout": 0}, ValueError, "timeout"),
        ({"timeout": -1}, ValueError, "timeout"),
        ({"timeout": float("nan")}, ValueError, "timeout"),
        ({"timeout": float("inf")}, ValueError, "timeout"),
        ({"timeout": True}, TypeError, "timeout"),
        ({"timeout": "1"}, TypeError, "timeout"),
        ({"lock_timeout": 0}, ValueError, "lock_timeout"),
        ({"lock_timeout": 0.0001}, ValueError, "lock_timeout"),
        ({"lock_timeout": None}, TypeError, "lock_timeout"),
        ({"retry_interval": -0.1}, ValueError, "retry_interval"),
        ({"retry_interval": float("inf")}, ValueError, "retry_interval"),
        ({"max_connections": 1}, ValueError, "max_connections"),
        ({"max_connections": 2.0}, TypeError, "max_connections"),
        ({"max_connections": True}, TypeError, "max_connections"),
        ({"clock": 3}, TypeError, "clock"),
    ],
)
def test_arguments_are_validated(kwargs: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        RedisCache("redis://127.0.0.1:1/0", **kwargs)


@pytest.mark.parametrize(
    ("target", "error", "match"),
    [
        ("", ValueError, "empty"),
        ("http://example.com/", ValueError, "Redis URL"),
        ("redis://127.0.0.1:notaport/0", ValueError, "Redis URL"),
        (42, TypeError, "redis must be"),
        (None, TypeError, "redis must be"),
    ],
)
def test_target_is_validated(target: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        RedisCache(target)


def test_a_bad_url_error_does_not_show_the_password() -> None:
    with pytest.raises(ValueError, match="Redis URL") as info:
        RedisCache("redis://user:hunter2@127.0.0.1:notaport/0")
    assert "hunter2" not in str(info.value)


def test_clients_it_cannot_use_are_refused() -> None:
    with pytest.raises(TypeError, match="asyncio"):
        RedisCache(redis.Redis())  # the synchronous client
    with pytest.raises(ValueError, match="decode_responses"):
        RedisCache(aioredis.Redis(decode_responses=True))


@pytest.mark.parametrize(
    "url",
    [
        "redis://:hunter2@127.0.0.1:6379/0",
        "redis://someone:hunter2@127.0.0.1:6379/0",
        "rediss://someone:hunter2@[::1]:6380/2",
        "redis://127.0.0.1:6379/0?password=hunter2&socket_keepalive=true",
        "unix:///run/redis.sock?db=0&password=hunter2",
    ],
)
async def test_repr_never_shows_the_password(url: str) -> None:
    async with RedisCache(url) as cache:
        text = repr(cache)
    assert "hunter2" not in text
    assert "***" in text
    assert text.startswith("RedisCache(")


async def test_configuration_is_read_only() -> None:
    async with RedisCache("redis://127.0.0.1:1/0", prefix="p:", timeout=0.5) as cache:
        assert (cache.prefix, cache.timeout, cache.lock_timeout, cache.retry_interval) == (
            "p:", 0.5, 10.0, 5.0,
        )
        assert cache.max_connections == 32
        with pytest.raises(AttributeError):
            cache.timeout = 1.0  # type: ignore[misc]
        with pytest.raises(AttributeError):
            cache.other = 1  # type: ignore[attr-defined]
        assert isinstance(cache, Coordinated)


def test_without_redis_installed_the_error_says_what_to_install() -> None:
    code = (
        "import sys\n"
        "sys.modules['redis'] = None\n"
        "import xai_models_async._redis as r\n"  # importing needs no redis
        "try:\n"
        "    r.RedisCache('redis://127.0.0.1:6379/0')\n"
        "except ImportError as exc:\n"
        "    print('IMPORTERROR', exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "IMPORTERROR" in out.stdout, out.stderr
    assert "pip install 'xai-models-async[redis]'" in out.stdout


# --- sharing through a real Redis ----------------------------------------------------------


async def test_every_type_round_trips_between_two_instances(
    cache: RedisCache, other: RedisCache
) -> None:
    for i, (_, value) in enumerate(VALUES):
        await cache.set(f"{KEY}:{i}", CacheEntry(value=value, fresh_until=111.25 + i), 60)
    for i, (_, value) in enumerate(VALUES):
        got = await other.get(f"{KEY}:{i}")
        assert got is not None
        assert got.fresh_until == 111.25 + i
        assert_same(got.value, value)


async def test_a_miss_is_none(cache: RedisCache) -> None:
    assert await cache.get("nothing:here") is None


async def test_entries_are_stored_under_the_prefix(
    cache: RedisCache, raw: aioredis.Redis, redis_prefix: str  # noqa: F811
) -> None:
    await cache.set(KEY, entry(), 60)
    assert await raw.exists(redis_prefix + KEY) == 1
    assert await raw.exists(KEY) == 0


@pytest.mark.parametrize("name", list(foreign_values(Path("x"))))
async def test_a_foreign_value_is_a_miss_logged_once_and_overwritten(
    name: str,
    cache: RedisCache,
    raw: aioredis.Redis,
    redis_prefix: str,  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    flag = tmp_path / "executed"
    await raw.set(redis_prefix + KEY, foreign_values(flag)[name])
    caplog.set_level(logging.WARNING, LOGGER)
    for _ in range(5):
        assert await cache.get(KEY) is None
    assert not flag.exists()
    logged = warnings_of(caplog, "ignoring the value")
    assert len(logged) == 1, logged
    assert "language_models:get" in logged[0]
    assert "3fa9c0d1e2b4a6f8" not in logged[0]  # the scope (a hash of the key) stays out
    # Not a Redis failure: the cache keeps working, and a set overwrites the value.
    assert not warnings_of(caplog, "unavailable")
    await cache.set(KEY, entry(), 60)
    got = await cache.get(KEY)
    assert got is not None
    assert_same(got.value, LANG)


async def test_a_key_of_another_redis_type_is_a_miss(
    cache: RedisCache,
    raw: aioredis.Redis,
    redis_prefix: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    await raw.rpush(redis_prefix + KEY, b"x")
    caplog.set_level(logging.WARNING, LOGGER)
    assert await cache.get(KEY) is None
    assert await cache.get(KEY) is None
    assert len(warnings_of(caplog, "another Redis type")) == 1
    assert not warnings_of(caplog, "unavailable")  # the circuit stays closed
    await cache.set(KEY, entry(), 60)
    assert await cache.get(KEY) is not None


async def test_the_ttl_is_kept(
    cache: RedisCache, raw: aioredis.Redis, redis_prefix: str  # noqa: F811
) -> None:
    await cache.set(KEY, entry(), 30)
    assert 29_000 < await raw.pttl(redis_prefix + KEY) <= 30_000
    await cache.set(KEY, entry(), 0.0004)  # rounded up to 1 ms, never 0 (= no expiry)
    await cache.set(LIST_KEY, entry([LANG]), 0.05)
    deadline = asyncio.get_running_loop().time() + 2
    while await cache.get(LIST_KEY) is not None:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)
    assert await cache.get(KEY) is None


async def test_ttl_zero_or_less_deletes(cache: RedisCache) -> None:
    await cache.set(KEY, entry(), 60)
    await cache.set(KEY, entry(), 0)
    assert await cache.get(KEY) is None
    await cache.set_many({KEY: entry(), LIST_KEY: entry([LANG])}, 60)
    await cache.set_many({KEY: entry(), LIST_KEY: entry([LANG])}, -1)
    assert await cache.get(KEY) is None
    assert await cache.get(LIST_KEY) is None


async def test_a_bad_ttl_or_value_is_the_callers_bug(cache: RedisCache) -> None:
    with pytest.raises(ValueError, match="ttl"):
        await cache.set(KEY, entry(), float("nan"))
    with pytest.raises(TypeError, match="ttl"):
        await cache.set(KEY, entry(), None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="model Struct"):
        await cache.set(KEY, entry({"id": "x"}), 60)
    with pytest.raises(TypeError, match="model Struct"):
        await cache.set_many({KEY: entry(), LIST_KEY: entry(("x",))}, 60)
    assert await cache.get(KEY) is None  # set_many wrote nothing


async def test_set_many_is_one_round_trip(
    redis_url: str,  # noqa: F811
    redis_prefix: str,  # noqa: F811
    raw: aioredis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from redis.asyncio.connection import AbstractConnection

    sent: list[int] = []
    original = AbstractConnection.send_packed_command

    async def counting(self: Any, command: Any, *args: Any, **kwargs: Any) -> None:
        sent.append(1)
        await original(self, command, *args, **kwargs)

    async with RedisCache(redis_url, prefix=redis_prefix) as cache:
        assert await cache.get("warm:up") is None  # connected and handshaken
        monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
        entries = {f"{KEY}:{i}": entry([LANG] * (i % 3)) for i in range(50)}
        await cache.set_many(entries, 60)
        assert len(sent) == 1
        monkeypatch.undo()
        await cache.set_many({}, 60)  # nothing to send
        for name, stored in entries.items():
            got = await cache.get(name)
            assert got is not None
            assert_same(got.value, stored.value)
        assert 59_000 < await raw.pttl(redis_prefix + f"{KEY}:7") <= 60_000


async def test_clear_removes_its_prefix_only(
    redis_url: str,  # noqa: F811
    redis_prefix: str,  # noqa: F811
    raw: aioredis.Redis,
) -> None:
    neighbour_prefix = redis_prefix[:-1] + "x:"  # shares a start, not the prefix
    glob_prefix = redis_prefix + "[a]*?:"  # MATCH metacharacters are taken literally
    async with RedisCache(redis_url, prefix=redis_prefix) as mine, RedisCache(
        redis_url, prefix=neighbour_prefix
    ) as theirs, RedisCache(redis_url, prefix=glob_prefix) as globbed:
        await mine.set_many({f"{KEY}:{i}": entry() for i in range(2500)}, 60)
        await theirs.set(KEY, entry(), 60)
        await globbed.set(KEY, entry(), 60)
        await raw.set(redis_prefix[:-1], b"not under the prefix")
        token = await mine.lock(KEY)
        assert token is not None

        await globbed.clear()
        assert await globbed.get(KEY) is None
        assert await mine.get(f"{KEY}:1") is not None

        await mine.clear()
        assert [k async for k in raw.scan_iter(match=redis_prefix + "3*")] == []
        assert await theirs.get(KEY) is not None
        assert await raw.get(redis_prefix[:-1]) == b"not under the prefix"
        # A fill in progress keeps its lock, so its waiters are still woken by unlock.
        assert await mine.lock(KEY) is None
        await mine.unlock(KEY, token)
        await raw.delete(redis_prefix[:-1])
        await theirs.clear()


# --- cross-process single-flight -----------------------------------------------------------


async def test_lock_is_exclusive_across_instances(
    cache: RedisCache,
    other: RedisCache,
    raw: aioredis.Redis,
    redis_prefix: str,  # noqa: F811
) -> None:
    token = await cache.lock(KEY)
    assert isinstance(token, str)
    assert len(token) >= 32
    assert await other.lock(KEY) is None
    assert await cache.lock(KEY) is None  # not re-entrant either
    assert await other.lock(LIST_KEY) is not None  # per key
    assert await raw.get(f"{redis_prefix}lock:{KEY}") == token.encode()
    assert 9_000 < await raw.pttl(f"{redis_prefix}lock:{KEY}") <= 10_000

    # A non-holder's unlock neither releases nor wakes anyone.
    pubsub = raw.pubsub()
    await pubsub.subscribe(f"{redis_prefix}filled")
    assert (await pubsub.get_message(timeout=1))["type"] == "subscribe"
    await other.unlock(KEY, "not-the-token")
    await other.unlock(KEY, "")
    assert await pubsub.get_message(timeout=0.05) is None
    assert await other.lock(KEY) is None

    # The holder's unlock releases, and announces the key.
    await cache.unlock(KEY, token)
    message = await pubsub.get_message(timeout=1)
    assert message is not None
    assert message["data"] == KEY.encode()
    await pubsub.aclose()
    second = await other.lock(KEY)
    assert second is not None
    assert second != token
    await cache.unlock(KEY, token)  # stale token: the new holder keeps the lock
    assert await cache.lock(KEY) is None
    await other.unlock(KEY, second)


async def test_wait_returns_at_once_when_no_lock_is_held(
    cache: RedisCache, other: RedisCache
) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    assert await other.wait(KEY) is None
    await cache.set(KEY, entry(), 60)
    got = await other.wait(KEY)
    assert got is not None
    assert got.value == LANG
    assert loop.time() - start < 0.05


async def test_wait_wakes_within_milliseconds_of_the_fill(
    cache: RedisCache, other: RedisCache
) -> None:
    loop = asyncio.get_running_loop()
    token = await cache.lock(KEY)
    assert token is not None
    woken: list[float] = []

    async def waiter() -> CacheEntry | None:
        result = await other.wait(KEY)
        woken.append(loop.time())
        return result

    waiters = [asyncio.create_task(waiter()) for _ in range(20)]
    await asyncio.sleep(0.1)  # they are all subscribed and waiting by now
    assert not woken
    await cache.set(KEY, entry(), 60)
    await cache.unlock(KEY, token)
    unlocked = loop.time()
    results = await asyncio.gather(*waiters)
    assert all(r is not None and r.value == LANG for r in results)
    assert max(woken) - unlocked < 0.05, max(woken) - unlocked
    assert other._wake.listener is None  # nobody waits: the listener stops


async def test_a_failed_fill_also_wakes_the_waiters(cache: RedisCache, other: RedisCache) -> None:
    loop = asyncio.get_running_loop()
    token = await cache.lock(KEY)
    assert token is not None
    task = asyncio.create_task(other.wait(KEY))
    await asyncio.sleep(0.05)
    start = loop.time()
    await cache.unlock(KEY, token)  # the fetch failed: nothing was set
    assert await task is None
    assert loop.time() - start < 0.05


async def test_wait_gives_up_when_the_lock_expires(
    redis_url: str, redis_prefix: str  # noqa: F811
) -> None:
    loop = asyncio.get_running_loop()
    async with RedisCache(redis_url, prefix=redis_prefix, lock_timeout=0.3) as dead, RedisCache(
        redis_url, prefix=redis_prefix, lock_timeout=0.3
    ) as alive:
        assert await dead.lock(KEY) is not None  # and its holder never unlocks
        start = loop.time()
        assert await alive.wait(KEY) is None
        waited = loop.time() - start
        assert 0.2 < waited < 0.3 + 0.1, waited
        assert await alive.lock(KEY) is not None  # the next filler takes over


async def test_no_wake_up_is_lost_when_unlock_races_wait(
    cache: RedisCache, other: RedisCache
) -> None:
    """Unlock at every moment of wait's start-up (the listener subscribing, the lock being
    read): a wait that missed the wake-up would sleep until the 10 s lock expiry."""
    loop = asyncio.get_running_loop()
    for round_ in range(60):
        token = await cache.lock(KEY)
        assert token is not None
        start = loop.time()
        task = asyncio.create_task(other.wait(KEY))
        for _ in range(round_ % 12):
            await asyncio.sleep(0)
        if round_ % 5 == 4:
            await asyncio.sleep(0.002)
        await cache.set(KEY, entry(), 60)
        await cache.unlock(KEY, token)
        got = await asyncio.wait_for(task, 2)
        assert got is not None
        assert got.value == LANG
        assert loop.time() - start < 0.5, round_


async def test_waiters_of_many_keys_share_one_pubsub_connection(
    cache: RedisCache, other: RedisCache, raw: aioredis.Redis
) -> None:
    keys = [f"{KEY}:{i}" for i in range(30)]
    tokens = [await cache.lock(k) for k in keys]
    before = len(await raw.client_list(_type="pubsub"))
    tasks = [asyncio.create_task(other.wait(k)) for k in keys for _ in range(3)]
    await asyncio.sleep(0.1)
    assert len(await raw.client_list(_type="pubsub")) - before == 1
    for k, token in zip(keys, tokens, strict=True):
        assert token is not None
        await cache.set(k, entry(), 60)
        await cache.unlock(k, token)
    results = await asyncio.gather(*tasks)
    assert all(r is not None for r in results)
    await asyncio.sleep(0.05)  # the stopped listener closes its connection
    assert len(await raw.client_list(_type="pubsub")) - before <= 0


async def test_a_cancelled_wait_leaves_nothing_behind(cache: RedisCache, other: RedisCache) -> None:
    token = await cache.lock(KEY)
    assert token is not None
    task = asyncio.create_task(other.wait(KEY))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert other._wake.waits == {}
    assert other._wake.n_waiting == 0
    await asyncio.sleep(0.02)
    assert not other._wake.tasks
    await cache.unlock(KEY, token)


# --- lifetime --------------------------------------------------------------------------------


async def test_close_wakes_waiters_and_leaves_no_task(
    redis_url: str, redis_prefix: str  # noqa: F811
) -> None:
    holder = RedisCache(redis_url, prefix=redis_prefix)
    waiting = RedisCache(redis_url, prefix=redis_prefix)
    assert await holder.lock(KEY) is not None
    tasks = [asyncio.create_task(waiting.wait(KEY)) for _ in range(5)]
    await asyncio.sleep(0.05)
    assert waiting._wake.tasks
    loop = asyncio.get_running_loop()
    start = loop.time()
    await waiting.close()
    assert await asyncio.gather(*tasks) == [None] * 5
    assert loop.time() - start < 0.1
    assert not leftover_tasks()
    await waiting.close()  # idempotent
    assert waiting.closed
    # Closed: as if Redis were down, and silent about it.
    assert await waiting.get(KEY) is None
    assert await waiting.wait(KEY) is None
    assert await waiting.lock(KEY) is not None
    await waiting.set(KEY, entry(), 60)
    await waiting.unlock(KEY, "x")
    await waiting.clear()
    await holder.close()


def test_nothing_is_left_pending_or_unretrieved(
    redis_url: str, redis_prefix: str, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    """A whole life on a loop of its own: after close() and the loop's end, asyncio has
    nothing to complain about (no pending task destroyed, no exception unretrieved)."""
    caplog.set_level(logging.DEBUG, "asyncio")

    async def life() -> None:
        async with RedisCache(redis_url, prefix=redis_prefix) as a, RedisCache(
            redis_url, prefix=redis_prefix
        ) as b:
            token = await a.lock(KEY)
            assert token is not None
            waits = [asyncio.create_task(b.wait(KEY)) for _ in range(3)]
            await asyncio.sleep(0.05)
            await a.set(KEY, entry(), 60)
            await a.unlock(KEY, token)
            await asyncio.gather(*waits)
            assert await b.lock(LIST_KEY) is not None
            pending = asyncio.create_task(a.wait(LIST_KEY))
            await asyncio.sleep(0.05)
        assert await pending is None
        assert not leftover_tasks()

    asyncio.run(life())
    gc.collect()
    complaints = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert not [m for m in complaints if "destroyed" in m or "never retrieved" in m]


async def test_a_given_client_is_not_closed(redis_url: str, redis_prefix: str) -> None:  # noqa: F811
    client = aioredis.Redis.from_url(redis_url)
    async with RedisCache(client, prefix=redis_prefix) as cache:
        await cache.set(KEY, entry(), 60)
        assert "given" in repr(cache)
    assert await client.ping()
    assert await client.exists(redis_prefix + KEY) == 1
    await client.delete(redis_prefix + KEY)
    await client.aclose()


# --- Redis trouble ---------------------------------------------------------------------------


async def test_redis_killed_mid_run_degrades_then_recovers(
    redis_server: RedisServer,  # noqa: F811
    redis_prefix: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    clock = Clock()
    loop = asyncio.get_running_loop()
    url = redis_server.url
    async with RedisCache(url, prefix=redis_prefix, clock=clock, timeout=0.2) as cache, RedisCache(
        url, prefix=redis_prefix, clock=clock, timeout=0.2
    ) as other:
        await cache.set(KEY, entry(), 60)
        assert await other.get(KEY) is not None

        redis_server.stop(kill=True)
        start = loop.time()
        for _ in range(50):
            assert await cache.get(KEY) is None
            await cache.set(KEY, entry(), 60)
            await cache.set_many({KEY: entry(), LIST_KEY: entry([])}, 60)
            token = await cache.lock(KEY)
            assert token is not None  # no coordination possible: go ahead and fetch
            assert await cache.wait(KEY) is None
            await cache.unlock(KEY, token)
            await cache.clear()
        # The first failure opened the circuit; the 349 operations after it skipped Redis.
        assert loop.time() - start < 0.5
        assert len(warnings_of(caplog, "unavailable")) == 1

        clock.advance(4.9)
        assert await cache.get(KEY) is None
        assert len(warnings_of(caplog, "unavailable")) == 1
        clock.advance(0.2)  # past retry_interval: one probe, which fails, one more WARNING
        assert await cache.get(KEY) is None
        assert await cache.get(KEY) is None
        assert len(warnings_of(caplog, "unavailable")) == 2

        redis_server.start()  # same port, empty
        clock.advance(5.1)
        caplog.clear()
        await cache.set(KEY, entry(), 60)
        infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
        assert any("reachable again" in m for m in infos), caplog.records
        # Sharing resumes: the other instance (whose connection also died) sees it, and
        # the locks are exclusive again.
        assert await other.get(KEY) is not None
        token = await cache.lock(KEY)
        assert token is not None
        assert await other.lock(KEY) is None
        waiter = asyncio.create_task(other.wait(KEY))
        await asyncio.sleep(0.05)
        await cache.unlock(KEY, token)
        assert await asyncio.wait_for(waiter, 1) is not None
        assert not warnings_of(caplog, "unavailable")


async def test_a_wait_in_progress_returns_when_redis_dies(
    redis_server: RedisServer,  # noqa: F811
    redis_prefix: str,  # noqa: F811
) -> None:
    loop = asyncio.get_running_loop()
    async with RedisCache(redis_server.url, prefix=redis_prefix) as holder, RedisCache(
        redis_server.url, prefix=redis_prefix
    ) as waiting:
        assert await holder.lock(KEY) is not None  # for 10 s
        task = asyncio.create_task(waiting.wait(KEY))
        await asyncio.sleep(0.05)
        start = loop.time()
        redis_server.stop(kill=True)
        assert await asyncio.wait_for(task, 2) is None
        assert loop.time() - start < 0.5
        await asyncio.sleep(0.01)
        assert not waiting._wake.tasks


async def test_write_errors_from_redis_are_no_ops(
    redis_server: RedisServer,  # noqa: F811
    redis_prefix: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    clock = Clock()
    admin = aioredis.Redis.from_url(redis_server.url)
    try:
        async with RedisCache(redis_server.url, prefix=redis_prefix, clock=clock) as cache:
            await cache.set(KEY, entry(), 60)
            # Out of memory: writes are refused.
            await admin.config_set("maxmemory-policy", "noeviction")
            await admin.config_set("maxmemory", 1)
            await cache.set(LIST_KEY, entry([LANG]), 60)
            await cache.set_many({LIST_KEY: entry([LANG])}, 60)
            assert await cache.lock(LIST_KEY) is not None
            logged = warnings_of(caplog, "unavailable")
            assert len(logged) == 1
            assert "memory" in logged[0].lower()
            await admin.config_set("maxmemory", 0)
            clock.advance(5.1)
            assert await cache.get(KEY) is not None

            # A read-only replica: the same.
            await admin.execute_command("REPLICAOF", "127.0.0.1", "1")
            await cache.set(LIST_KEY, entry([LANG]), 60)
            assert await cache.lock(LIST_KEY) is not None
            await cache.unlock(LIST_KEY, "x")
            logged = warnings_of(caplog, "unavailable")
            assert len(logged) == 2
            assert "READONLY" in logged[1].upper()
            await admin.execute_command("REPLICAOF", "NO", "ONE")
            clock.advance(5.1)
            await cache.set(LIST_KEY, entry([LANG]), 60)
            assert await cache.get(LIST_KEY) is not None
    finally:
        await admin.aclose()


@pytest.mark.parametrize("given_client", [False, True], ids=["url", "given client"])
async def test_a_blackholed_redis_costs_at_most_the_timeout_per_operation(
    blackhole: int, given_client: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    loop = asyncio.get_running_loop()
    url = f"redis://127.0.0.1:{blackhole}/0"
    client = aioredis.Redis.from_url(url) if given_client else None
    target: Any = client if client is not None else url
    # retry_interval=0: the circuit never stays open, so every operation really tries.
    async with RedisCache(target, prefix="bh:", timeout=0.1, retry_interval=0) as cache:
        operations: list[Any] = [
            lambda: cache.get(KEY),
            lambda: cache.set(KEY, entry(), 60),
            lambda: cache.set_many({KEY: entry()}, 60),
            lambda: cache.lock(KEY),
            lambda: cache.unlock(KEY, "x"),
            lambda: cache.wait(KEY),
            lambda: cache.clear(),
        ]
        for operation in operations:
            start = loop.time()
            result = await operation()
            took = loop.time() - start
            assert took < 0.1 + 0.1, (operation, took)
            assert result is None or isinstance(result, str)
        assert warnings_of(caplog, "unavailable")
    async with RedisCache(target, prefix="bh:", timeout=0.1) as cache:
        start = loop.time()
        assert await cache.get(KEY) is None
        for _ in range(100):  # the circuit is open: no more waiting
            assert await cache.get(KEY) is None
        assert loop.time() - start < 0.1 + 0.1
    if client is not None:
        assert client.connection_pool is not None  # not closed by the cache
        await client.aclose()


async def test_the_callers_cancellation_passes_through(blackhole: int) -> None:
    async with RedisCache(f"redis://127.0.0.1:{blackhole}/0", timeout=5) as cache:
        for operation in (cache.get(KEY), cache.set(KEY, entry(), 60), cache.lock(KEY)):
            task = asyncio.create_task(operation)
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


async def test_a_burst_of_calls_queues_for_few_connections(
    redis_url: str, redis_prefix: str  # noqa: F811
) -> None:
    async with RedisCache(redis_url, prefix=redis_prefix, max_connections=4) as cache:
        await cache.set(KEY, entry(), 60)
        results = await asyncio.gather(*(cache.get(KEY) for _ in range(500)))
        assert all(r is not None and r.value == LANG for r in results)
        pool = cache._redis.connection_pool
        assert len(pool._available_connections) + len(pool._in_use_connections) <= 3


async def test_unreadable_values_are_logged_once_per_kind_of_key_and_reason(
    cache: RedisCache,
    raw: aioredis.Redis,
    redis_prefix: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    garbage = b"\xc1 never msgpack"
    for model in ("grok-3", "grok-4", "grok-2"):  # one kind: language_models:get
        await raw.set(f"{redis_prefix}3fa9c0d1e2b4a6f8:language_models:get:{model}", garbage)
    await raw.set(redis_prefix + LIST_KEY, garbage)
    await raw.set(redis_prefix + "3fa9c0d1e2b4a6f8:models:get:grok-3", garbage)
    for _ in range(3):
        for model in ("grok-3", "grok-4", "grok-2"):
            assert await cache.get(f"3fa9c0d1e2b4a6f8:language_models:get:{model}") is None
        assert await cache.get(LIST_KEY) is None
        assert await cache.get("3fa9c0d1e2b4a6f8:models:get:grok-3") is None
    logged = warnings_of(caplog, "ignoring the value")
    assert len(logged) == 3, logged
    assert {m.split(" key under")[0].rsplit(" ", 1)[-1] for m in logged} == {
        "language_models:get", "language_models:list", "models:get",
    }
    future = msgspec.msgpack.encode([_MAGIC, _FORMAT_VERSION + 1, "LanguageModel", 1.0, {}])
    await raw.set(redis_prefix + KEY, future)  # another reason, same kind
    assert await cache.get(KEY) is None
    assert len(warnings_of(caplog, "ignoring the value")) == 4
