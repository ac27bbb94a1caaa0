"""Run a README block, or a user's test file, in a subprocess with no network.

    python tests/_sandbox.py script FILE          # FILE as __main__, like `python FILE`
    python tests/_sandbox.py pytest ARG...        # like `python -m pytest ARG...`

Tests start it with ``run_sandboxed(...)``, always in a subprocess (an audit hook cannot
be removed). The hook refuses every DNS lookup of, and connection to, a host that is not
loopback; such an attempt makes the exit status 3 even if the code caught the error it
got. An exception nobody could catch (one in ``__del__``, such as an unclosed-session
warning under ``-W error``) makes it 4. Otherwise the exit status is the script's or
pytest's.

In ``script`` mode ``aiohttp.web.run_app`` is replaced by a stand-in, so that a README
block showing a complete web app can run: it serves the app on a free loopback port,
GETs every ``http://localhost:PORT/...`` URL written in FILE (the examples a reader
would try with curl) and needs a 200 from each, then shuts the app down, as Ctrl-C would.
"""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import os
import re
import runpy
import sys
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
TIMEOUT = 30.0
EXIT_NETWORK = 3
EXIT_UNRAISABLE = 4

_refused: list[str] = []
_unraisable: list[str] = []


def _is_loopback(host: object) -> bool:
    if host is None:  # getaddrinfo(None, port): the local host
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost") or name == "":
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.getaddrinfo" or event.startswith("socket.gethostby"):
        host = args[0]
    elif event in ("socket.connect", "socket.sendto"):
        address = args[1]
        if not isinstance(address, tuple):  # AF_UNIX path: local
            return
        host = address[0]
    else:
        return
    if _is_loopback(host):
        return
    message = f"sandbox: network access refused ({event} {host!r}); use 127.0.0.1"
    _refused.append(message)
    print(message, file=sys.__stderr__, flush=True)
    raise OSError(message)


def _unraisable_hook(unraisable: Any) -> None:
    text = "".join(traceback.format_exception(
        unraisable.exc_type, unraisable.exc_value, unraisable.exc_traceback))
    _unraisable.append(text)
    print(f"sandbox: exception in {unraisable.object!r}:\n{text}", file=sys.__stderr__,
          flush=True)


_LOCAL_URL = re.compile(r"http://(?:localhost|127\.0\.0\.1):\d+(/[^\s'\"`)]*)")


def _stand_in_run_app(source: str) -> Any:
    import inspect

    import aiohttp
    from aiohttp import web

    paths = _LOCAL_URL.findall(source)

    def run_app(app: Any, *args: Any, **kwargs: Any) -> None:
        async def serve() -> None:
            application = await app if inspect.isawaitable(app) else app
            runner = web.AppRunner(application)
            await runner.setup()
            try:
                site = web.TCPSite(runner, "127.0.0.1", 0)
                await site.start()
                port = runner.addresses[0][1]
                print(f"run_app stand-in: serving on 127.0.0.1:{port}", flush=True)
                async with aiohttp.ClientSession() as session:
                    for path in paths:
                        async with session.get(f"http://127.0.0.1:{port}{path}") as response:
                            body = await response.text()
                            print(f"GET {path} -> {response.status} {body}", flush=True)
                            if response.status != 200:
                                raise SystemExit(f"run_app stand-in: GET {path} answered "
                                                 f"{response.status}, not 200")
            finally:
                await runner.cleanup()  # on_shutdown / on_cleanup / cleanup_ctx run here

        asyncio.run(serve())

    return run_app


def _script(path: str) -> int:
    with open(path, encoding="utf-8") as file:
        source = file.read()
    from aiohttp import web

    web.run_app = _stand_in_run_app(source)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))  # as `python FILE` does
    sys.argv = [path]
    try:
        runpy.run_path(path, run_name="__main__")
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


def _pytest(args: list[str]) -> int:
    import pytest

    sys.path.insert(0, os.getcwd())  # as `python -m pytest` does
    return int(pytest.main(args))


def main() -> int:
    # `python tests/_sandbox.py` put tests/ first on sys.path; the code under test must
    # not see the project's test modules.
    if sys.path and Path(sys.path[0] or ".").resolve() == HERE.parent:
        del sys.path[0]
    sys.addaudithook(_audit)
    sys.unraisablehook = _unraisable_hook
    mode, *rest = sys.argv[1:]
    status = _script(rest[0]) if mode == "script" else _pytest(rest)
    gc.collect()  # let an unclosed object's __del__ complain now, not after the verdict
    sys.stdout.flush()
    if _refused:
        print(f"sandbox: {len(_refused)} network access(es) refused; failing",
              file=sys.stderr)
        return EXIT_NETWORK
    if _unraisable:
        return EXIT_UNRAISABLE
    return status


# ------------------------------------------------------------- the tests' side


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without XAI_*, PYTEST_* and PYTHONWARNINGS, plus
    ``extra``: the developer's settings must not leak into a sandboxed run."""
    env = {
        name: value for name, value in os.environ.items()
        if not name.startswith(("XAI_", "PYTEST_")) and name != "PYTHONWARNINGS"
    }
    env.update(extra)
    return env


async def run_sandboxed(
    args: list[str], *, cwd: Path, env: dict[str, str], timeout: float = TIMEOUT,
) -> tuple[int, str]:
    """Run this file with ``args`` under ``-W error``: (exit status, stdout and stderr).

    Asynchronous, so that a server in the calling test's event loop keeps answering. A
    run past ``timeout`` seconds is killed and fails the calling test."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-W", "error", str(HERE), *args,
        cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        import pytest

        pytest.fail(f"timed out after {timeout:g} s: {' '.join(args)}")
    assert proc.returncode is not None
    return proc.returncode, out.decode("utf-8", "replace")


if __name__ == "__main__":
    sys.exit(main())
