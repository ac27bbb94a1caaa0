"""The ``xai-models`` command: list, get, resolve and browse xAI models from a shell, and
follow their changes.

::

    xai-models --demo catalog --details   # built-in example data: no key, no network
    xai-models list image --json | jq .   # exactly the decoded objects
    xai-models resolve grok-4-latest
    xai-models catalog --json > today.json && xai-models diff yesterday.json today.json
    xai-models watch --interval 300       # one line per added, removed or changed model
    xai-models serve --port 8000          # a local fake API for other programs

Standard library only (argparse), on top of the public API of ``xai_models_async``.
``main`` returns the exit code: 0 on success, 1 for an API or configuration error, 2 for
a usage error, 130 when interrupted. Modules: ``_args`` (the command line), ``_commands``
(what asks the API), ``_feed`` (diff and watch), ``_render`` (tables and JSON),
``_progress`` (the status line on a terminal), ``_serve``, ``_main``.
"""

from xai_models_async.cli._args import build_parser
from xai_models_async.cli._main import main
from xai_models_async.cli._render import shift, usd, utc_date

__all__ = ["build_parser", "main", "shift", "usd", "utc_date"]
