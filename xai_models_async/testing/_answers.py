"""What the live service answers, as a pure function of the request: the routes, the
auth check, and xAI's error bodies (``{"code": ..., "error": ...}``, with the gRPC status
sentences the live service uses as codes)."""

from __future__ import annotations

import hmac
from http import HTTPStatus
from urllib.parse import unquote

import msgspec

from xai_models_async.testing._catalog import EncodedCatalog

__all__ = ["BAD_GATEWAY_HTML", "Answer", "answer", "default_error_body"]

# URL segment after /v1/ -> catalog key.
_ROUTES: dict[str, str] = {
    "models": "models",
    "language-models": "language_models",
    "image-generation-models": "image_generation_models",
    "video-generation-models": "video_generation_models",
    "embedding-models": "embedding_models",
}

_NOT_FOUND = "Some requested entity was not found"

# Live-shaped default bodies for injected error statuses. xAI's "code" values are the
# descriptions of gRPC status codes, so the same sentences are used here.
_ERROR_TEXTS: dict[int, tuple[str, str]] = {
    400: ("Client specified an invalid argument", "The request was rejected as invalid."),
    401: ("Unauthenticated", "The provided API key could not be authenticated."),
    403: (
        "The caller does not have permission to execute the specified operation",
        "Your team does not have any credits or licenses to use this endpoint.",
    ),
    404: (_NOT_FOUND, "The requested entity does not exist."),
    408: (
        "The deadline expired before the operation could complete",
        "The request timed out.",
    ),
    409: ("The operation was aborted", "The request conflicted with another request."),
    429: (
        "Some resource has been exhausted",
        "Too many requests: your team has exceeded its rate limit.",
    ),
    500: ("Internal error", "An internal error occurred. Please try again later."),
    502: ("The service is currently unavailable", "Bad gateway."),
    503: ("The service is currently unavailable", "The service is temporarily unavailable."),
    504: (
        "The deadline expired before the operation could complete",
        "The upstream service did not answer in time.",
    ),
    529: ("The service is currently unavailable", "The service is overloaded."),
}

BAD_GATEWAY_HTML = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>bad gateway</center>\r\n"
    b"</body>\r\n</html>\r\n"
)

Answer = tuple[int, bytes, "dict[str, str] | None"]


def _error(code: str, message: str) -> bytes:
    return msgspec.json.encode({"code": code, "error": message})


def default_error_body(status: int) -> bytes:
    texts = _ERROR_TEXTS.get(status)
    if texts is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown error"
        texts = (phrase, f"The request failed with HTTP {status}.")
    return _error(*texts)


def _mask_key(key: str) -> str:
    # Short keys are masked entirely: first-2 + last-2 of a 4-character key is the key.
    return f"{key[:2]}***{key[-2:]}" if len(key) > 4 else "***"



def answer(catalog: EncodedCatalog, method: str, path: str, auth: str,
           api_key: str | None, team_id: str) -> Answer:
    """The normal answer to ``method path`` with the ``Authorization`` header ``auth``:
    (status, body, extra headers). ``api_key`` None accepts any key."""
    scheme, _, key = auth.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        return (
            401,
            _error(
                "Unauthenticated",
                "No API key provided. Specify your API key in an Authorization header using "
                "Bearer auth (Authorization: Bearer <your API key>). You can obtain an API "
                "key from https://console.x.ai.",
            ),
            None,
        )
    if api_key is not None and not hmac.compare_digest(
        key.encode(), api_key.encode()
    ):
        return (
            400,
            _error(
                "Client specified an invalid argument",
                f"Incorrect API key provided: {_mask_key(key)}. "
                "You can obtain an API key from https://console.x.ai.",
            ),
            None,
        )

    parts = path.split("/")
    # parts of "/v1/models/x" are ["", "v1", "models", "x"].
    family = _ROUTES.get(parts[2]) if len(parts) in (3, 4) and parts[1] == "v1" else None
    if family is None or (len(parts) == 4 and not parts[3]):
        return 404, _error(_NOT_FOUND, f"The requested path {path} does not exist."), None
    if method != "GET":
        return (
            405,
            _error(
                "Method Not Allowed",
                f"Method {method} is not allowed on {path}; only GET is.",
            ),
            {"Allow": "GET"},
        )
    if len(parts) == 3:
        return 200, catalog.lists[family], None
    model_id = unquote(parts[3])
    body = catalog.objects[family].get(model_id)
    if body is None:
        return (
            404,
            _error(
                _NOT_FOUND,
                f"The model {model_id} does not exist or your team {team_id} "
                "does not have access to it.",
            ),
            None,
        )
    return 200, body, None
