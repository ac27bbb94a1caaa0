"""The public surface: one explicit __all__, everything typed, nothing private leaking."""

from __future__ import annotations

import inspect
from pathlib import Path

import xai_models_async as xm


def test_all_matches_public_names() -> None:
    public = {
        name for name, value in vars(xm).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert set(xm.__all__) == public | {"__version__"}
    assert len(xm.__all__) == len(set(xm.__all__))


def test_every_exported_name_resolves() -> None:
    for name in xm.__all__:
        assert getattr(xm, name) is not None


def test_errors_share_one_base() -> None:
    for name in xm.__all__:
        obj = getattr(xm, name)
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            assert issubclass(obj, xm.XAIError), name


def test_package_is_marked_typed() -> None:
    assert (Path(xm.__file__).parent / "py.typed").is_file()


def test_version_is_a_string() -> None:
    assert isinstance(xm.__version__, str)
    assert xm.__version__.count(".") >= 2
