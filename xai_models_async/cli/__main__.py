"""``python -m xai_models_async.cli``: the same as the ``xai-models`` command."""

import sys

from xai_models_async.cli import main

if __name__ == "__main__":
    sys.exit(main())
