"""Asyncio-first client for the xAI Models API (work in progress)."""

from xai_models_async._version import __version__

__all__ = ["__version__"]
