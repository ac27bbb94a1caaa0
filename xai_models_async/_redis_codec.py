"""How ``RedisCache`` stores a cache entry: msgspec MessagePack, never pickle. No Redis I/O.

An entry is the array ``[magic, format version, type tag, fresh_until, value]``. The tag
names a ``msgspec.Struct`` class of ``xai_models_async.types`` (``"list:<name>"`` for a list
of one such class), and a value decodes into that class only: bytes written by anyone
else (pickle included) are at worst "not an entry", with a short reason that
``EntryReader`` logs once per kind of key.
"""

from __future__ import annotations

import logging
import math
import types as _pytypes
from typing import Any, cast

import msgspec

from xai_models_async import types as _model_types
from xai_models_async._cache import CacheEntry

__all__ = ["EntryReader", "decode_entry", "encode_entry", "ttl_ms"]

logger = logging.getLogger("xai_models_async")

#: First element of every envelope: tells our entries from anything else under the prefix.
_MAGIC = "xai-models-async"
#: Bump when the envelope or the payload encoding changes meaning; older or newer
#: versions then read as misses (and are overwritten by the next ``set``).
_FORMAT_VERSION = 1
_LIST = "list"  # the tag of an empty list; a list of X is "list:X"
_EMPTY_ARRAY = b"\x90"  # MessagePack's empty array
#: Decode problems are logged once per (key kind, reason); past this many, no more.
_MAX_REPORTED = 256


def _struct_classes(module: _pytypes.ModuleType) -> dict[str, type[msgspec.Struct]]:
    """Every ``msgspec.Struct`` subclass that ``module.__all__`` names, by that name.

    The set of types a cached entry may hold is derived, never listed by hand, so a model
    class added to ``xai_models_async.types`` is cacheable at once.
    """
    found: dict[str, type[msgspec.Struct]] = {}
    for name in getattr(module, "__all__", ()):
        obj = getattr(module, name, None)
        if isinstance(obj, type) and issubclass(obj, msgspec.Struct) and obj.__name__ == name:
            found[name] = obj
    return found


_CLASSES: dict[str, type[msgspec.Struct]] = _struct_classes(_model_types)
_TAG_OF: dict[type, str] = {cls: name for name, cls in _CLASSES.items()}
_DECODERS: dict[str, msgspec.msgpack.Decoder[Any]] = {}
_ENCODER = msgspec.msgpack.Encoder()


class _Envelope(msgspec.Struct, array_like=True, frozen=True):
    magic: str
    version: int
    tag: str
    fresh_until: float
    payload: msgspec.Raw


class _Head(msgspec.Struct, array_like=True, frozen=True):
    """The part of an envelope every format version shares (trailing items ignored)."""

    magic: str
    version: int


_ENVELOPE_DECODER = msgspec.msgpack.Decoder(_Envelope)
_HEAD_DECODER = msgspec.msgpack.Decoder(_Head)


def _tag_of(value: object) -> str:
    """The type tag of a cacheable value; TypeError for anything else."""
    tag = _TAG_OF.get(type(value))
    if tag is not None:
        return tag
    if type(value) is list:
        items = cast("list[object]", value)
        if not items:
            return _LIST
        first = type(items[0])
        tag = _TAG_OF.get(first)
        if tag is not None and all(type(item) is first for item in items):
            return f"{_LIST}:{tag}"
    raise TypeError(
        "RedisCache stores a model Struct of xai_models_async.types, or a list of them of "
        f"one type, got {_describe_value(value)}"
    )


def _describe_value(value: object) -> str:
    if type(value) is list:
        kinds = sorted({type(item).__name__ for item in cast("list[object]", value)})
        return f"a list of {', '.join(kinds)}"
    return type(value).__name__


def encode_entry(entry: CacheEntry) -> bytes:
    """An entry as the bytes stored in Redis: ``[magic, version, tag, fresh_until, value]``."""
    if not isinstance(entry, CacheEntry):
        raise TypeError(f"expected a CacheEntry, got {type(entry).__name__}")
    fresh_until = entry.fresh_until
    if isinstance(fresh_until, bool) or not isinstance(fresh_until, (int, float)):
        raise TypeError(f"CacheEntry.fresh_until must be a number, got {fresh_until!r}")
    tag = _tag_of(entry.value)
    return _ENCODER.encode((_MAGIC, _FORMAT_VERSION, tag, float(fresh_until), entry.value))


def ttl_ms(ttl: object) -> int:
    """How long Redis keeps an entry (``PX``): ``ttl`` seconds in whole milliseconds,
    rounded up; 0 (delete it) for ``ttl <= 0``."""
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
        raise TypeError(f"ttl must be a number of seconds, got {ttl!r}")
    if math.isnan(ttl) or math.isinf(ttl):
        raise ValueError(f"ttl must be a finite number of seconds, got {ttl!r}")
    return 0 if ttl <= 0 else max(1, math.ceil(ttl * 1000))


def _decoder_for(tag: str) -> msgspec.msgpack.Decoder[Any] | None:
    decoder = _DECODERS.get(tag)
    if decoder is not None:
        return decoder
    name = tag[len(_LIST) + 1:] if tag.startswith(_LIST + ":") else tag
    cls = _CLASSES.get(name)
    if cls is None:
        return None  # unknown tags are not cached: foreign data must not grow this dict
    decoder = msgspec.msgpack.Decoder(list[cls] if name != tag else cls)  # type: ignore[valid-type]
    _DECODERS[tag] = decoder
    return decoder


def decode_entry(data: bytes) -> CacheEntry | str:
    """Bytes read from Redis as a CacheEntry, or the reason (a short text) they are not
    one. Only MessagePack is parsed and only the registered Struct types are built, so
    foreign bytes (pickle included) can never run code."""
    try:
        envelope = _ENVELOPE_DECODER.decode(data)
    except msgspec.DecodeError:
        return _why_not_an_envelope(data)
    if envelope.magic != _MAGIC:
        return "not an entry of xai-models-async"
    if envelope.version != _FORMAT_VERSION:
        return f"format version {envelope.version} (this version reads {_FORMAT_VERSION})"
    if envelope.tag == _LIST:
        if bytes(envelope.payload) != _EMPTY_ARRAY:
            return "payload does not match its type tag"
        return CacheEntry(value=[], fresh_until=envelope.fresh_until)
    decoder = _decoder_for(envelope.tag)
    if decoder is None:
        return f"unknown type tag {envelope.tag[:60]!r}"
    try:
        value = decoder.decode(envelope.payload)
    except msgspec.DecodeError:
        return "payload does not match its type tag"
    return CacheEntry(value=value, fresh_until=envelope.fresh_until)


def _why_not_an_envelope(data: bytes) -> str:
    try:
        head = _HEAD_DECODER.decode(data)
    except msgspec.DecodeError:
        return "not an entry of xai-models-async (foreign or corrupt data)"
    if head.magic != _MAGIC:
        return "not an entry of xai-models-async"
    if head.version != _FORMAT_VERSION:
        return f"format version {head.version} (this version reads {_FORMAT_VERSION})"
    return "malformed envelope"


def _key_kind(key: str) -> str:
    """``"<scope>:language_models:get:grok-3"`` -> ``"language_models:get"``: what a
    decode problem is reported per (per kind, not per id, and never the scope)."""
    parts = key.split(":", 3)
    return f"{parts[1]}:{parts[2]}" if len(parts) >= 3 else "other"


class EntryReader:
    """What a ``RedisCache`` read under a key as an entry, or None; each kind of unreadable
    value is logged once (per kind of key and reason, ``_MAX_REPORTED`` at most)."""

    __slots__ = ("_prefix", "_reported")

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._reported: set[tuple[str, str]] = set()

    def read(self, key: str, data: Any) -> CacheEntry | None:
        if not isinstance(data, bytes):  # a client that decodes (it was checked at start)
            self.report(key, "not bytes")
            return None
        entry = decode_entry(data)
        if isinstance(entry, str):
            self.report(key, entry)
            return None
        return entry

    def report(self, key: str, reason: str) -> None:
        """Log an unreadable entry once per (kind of key, reason)."""
        seen = (_key_kind(key), reason)
        if seen in self._reported or len(self._reported) >= _MAX_REPORTED:
            return
        self._reported.add(seen)
        logger.warning(
            "Redis cache: ignoring the value of a %s key under %r: %s; treated as a miss "
            "(the next set overwrites it; logged once)",
            seen[0], self._prefix, reason,
        )
