"""What every part of the command shares: its name, the kinds, and the one-line error."""

from __future__ import annotations

__all__ = ["CATALOG_KEYS", "KINDS", "PROG", "TITLES", "CLIError", "UsageError"]

PROG = "xai-models"

#: The command's kind names -> the client's resource attribute (also the catalog keys),
#: in the order `catalog` shows them.
KINDS: dict[str, str] = {
    "language": "language_models",
    "image": "image_generation_models",
    "video": "video_generation_models",
    "embedding": "embedding_models",
    "models": "models",
}

#: Catalog key -> the command's kind name (for `diff` and `watch` lines).
CATALOG_KEYS: dict[str, str] = {key: kind for kind, key in KINDS.items()}

TITLES: dict[str, str] = {
    "language": "Language models",
    "image": "Image generation models",
    "video": "Video generation models",
    "embedding": "Embedding models",
    "models": "All models (/v1/models)",
}


class CLIError(Exception):
    """A problem the user can fix, reported as one line and exit code 1. ``hints`` are
    further lines (``hint: ...``) printed after it."""

    def __init__(self, message: str, *hints: str) -> None:
        super().__init__(message)
        self.hints = hints


class UsageError(CLIError):
    """A wrong input found after parsing (an unreadable file for `diff`): exit code 2,
    as argparse's own usage errors, but without the usage text."""
