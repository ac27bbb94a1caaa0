"""``mock_api()``: aioresponses, made to work with this client on aiohttp 3.14.

aioresponses 0.7.9 builds every mocked ``aiohttp.ClientResponse`` without the
``stream_writer`` keyword argument that aiohttp 3.14 made required, so each mocked request
fails with ``TypeError: ClientResponse.__init__() missing 1 required keyword-only argument:
'stream_writer'`` (which this client reports as an ``APIConnectionError``). That is
upstream issue 289, https://github.com/pnuckowski/aioresponses/issues/289 (fix proposed in
its pull request 288).

The work-around uses only aioresponses' public ``response_class`` hook: every response is
built from a ``ClientResponse`` subclass that supplies a do-nothing writer when none is
given. Nothing else changes, so ``mock_api()`` takes the arguments of ``aioresponses()``
(``passthrough=``, ``passthrough_unmatched=``, ``param=``) and works as a context manager
or a decorator. It stays correct once aioresponses passes ``stream_writer`` itself (its
value wins). When to remove it: once an aioresponses release fixes issue 289 (the strict
xfail in tests/test_mock_api.py then fails) and the project requires that release,
``mock_api`` can become plain ``aioresponses()`` (keep the name: users import it) and
the classes below can go.

aioresponses is a test-time dependency: this module is imported only when ``mock_api``
(or the ``xai_mock`` fixture) is used, never by the client or by
``import xai_models_async.testing``.
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable
from typing import Any

import aiohttp

try:
    from aioresponses import CallbackResult, aioresponses
except ImportError as exc:  # only when aioresponses itself is missing, not a dependency of it
    if exc.name != "aioresponses":
        raise
    raise ModuleNotFoundError(
        "xai_models_async.testing.mock_api needs aioresponses, a test-time dependency: "
        "pip install aioresponses",
        name="aioresponses",
    ) from exc

__all__ = ["mock_api"]


class _SentWriter:
    """The stream writer of a request that was sent already (aioresponses passes
    ``writer=None``): aiohttp then only reads how many bytes it wrote."""

    output_size = 0


_SENT = _SentWriter()


class _WithStreamWriter(aiohttp.ClientResponse):
    """``ClientResponse`` that defaults ``stream_writer``, as aiohttp < 3.14 did not need."""

    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _SENT)
        super().__init__(method, url, **kwargs)


@functools.cache
def _compatible(response_class: type[aiohttp.ClientResponse] | None) -> type[Any]:
    """``response_class``, or ``ClientResponse`` for None, with ``stream_writer`` defaulted.

    A user's own subclass keeps its behaviour: the default is mixed in front of it.
    """
    if response_class is None:
        return _WithStreamWriter
    if issubclass(response_class, _WithStreamWriter):
        return response_class
    return type(
        response_class.__name__,
        (_WithStreamWriter, response_class),
        {"__module__": response_class.__module__, "__qualname__": response_class.__qualname__},
    )


def _fix_result(result: Any) -> Any:
    if isinstance(result, CallbackResult):
        result = copy.copy(result)  # never change the caller's object
        result.response_class = _compatible(result.response_class)
    return result


def _compatible_callback(callback: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a ``callback=`` so that a ``CallbackResult`` it returns builds a compatible
    response too. aioresponses awaits the callback only if it is a coroutine function,
    so the wrapper is one exactly when the callback is."""
    if inspect.iscoroutinefunction(callback):

        @functools.wraps(callback)
        async def wrapped_async(*args: Any, **kwargs: Any) -> Any:
            return _fix_result(await callback(*args, **kwargs))

        return wrapped_async

    @functools.wraps(callback)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return _fix_result(callback(*args, **kwargs))

    return wrapped


_ADD = inspect.signature(aioresponses.add)


class _MockAPI(aioresponses):
    """aioresponses whose responses can be built on aiohttp 3.14 (issue 289)."""

    def add(self, *args: Any, **kwargs: Any) -> None:
        # Bound against aioresponses' own signature, so positional arguments, future
        # parameters and wrong names behave exactly as they do there.
        bound = _ADD.bind(self, *args, **kwargs)
        arguments = bound.arguments
        arguments["response_class"] = _compatible(arguments.get("response_class"))
        if arguments.get("callback") is not None:
            arguments["callback"] = _compatible_callback(arguments["callback"])
        super().add(*bound.args[1:], **bound.kwargs)


def mock_api(**kwargs: Any) -> aioresponses:
    """An ``aioresponses()`` that works with ``AsyncClient`` on aiohttp 3.14.

    Use it exactly like aioresponses: as a context manager or a decorator, registering
    responses by URL (the client's default base URL is ``https://api.x.ai``)::

        with mock_api() as m:
            m.get("https://api.x.ai/v1/models/grok-3",
                  payload={"id": "grok-3", "created": 1, "owned_by": "xai"})
            async with xm.AsyncClient("any-key") as client:
                model = await client.models.get("grok-3")

    Keyword arguments go to ``aioresponses()`` unchanged (``passthrough=[prefixes]``,
    ``passthrough_unmatched=True``, ``param="name"``). As there, a request that matches
    nothing fails with a connection error (``APIConnectionError``, which the client retries
    per its ``RetryPolicy``), and each registered response answers once unless
    ``repeat=True``.

    Works around aioresponses issue 289 (``ClientResponse`` now needs ``stream_writer``);
    see this module's docstring for when to drop it.
    """
    return _MockAPI(**kwargs)
