"""toxbridge's tox 4 plugin: makes each env's pytest load the reporter, for server runs only.

tox loads it through the `tox` entry point wherever toxbridge is installed next to tox,
so it must cost nothing and do nothing unless TOXBRIDGE_EVENTS (the channel's socket,
set by the server for the tox it starts) is in tox's environment.

When it is set, before an env's commands run (`tox_before_run_commands`: the env is
installed by then, so pip never sees any of this; it runs in the env's own thread under
`tox p`), and only if those commands run pytest, the env's environment gets:

    PYTHONPATH       += <the socket's directory>/pythonpath  (holding only toxbridge_reporter.py)
    PYTEST_PLUGINS   += toxbridge_reporter
    TOXBRIDGE_EVENTS  = the socket,  TOXBRIDGE_ENV = the env's name
    TOXBRIDGE_REPORTLOG = 1          (only if tox has it: records then carry reportlog data)

appended to the values the env already had from `pass_env` and `set_env`, never
replacing them. The values go through the env's own `set_env`, so tox builds the
commands' environment from them as from the user's settings. Nothing is installed into
the env and nothing is written into the project.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tox.plugin import impl

if TYPE_CHECKING:
    from tox.tox_env.api import ToxEnv

ADDRESS_VARIABLE = "TOXBRIDGE_EVENTS"
ENV_VARIABLE = "TOXBRIDGE_ENV"
REPORTLOG_VARIABLE = "TOXBRIDGE_REPORTLOG"
MODULE = "toxbridge_reporter"
DIRECTORY = "pythonpath"
PYTEST_NAMES = ("pytest", "py.test")
COMMAND_KEYS = ("commands_pre", "commands", "commands_post")
SOURCE = Path(__file__).with_name("pytest_plugin.py")

_copy_lock = threading.Lock()  # `tox p` runs envs in threads


def runs_pytest(args: Sequence[str]) -> bool:
    """Does this command run pytest? Its program or any argument is pytest or py.test (a
    path to one counts), or it has `-m pytest`: `pytest`, `python -m pytest`,
    `coverage run -m pytest`, `{envbindir}/py.test`, `xvfb-run pytest` all do."""
    for index, arg in enumerate(args):
        name = os.path.basename(arg)
        if name.endswith(".exe"):
            name = name[: -len(".exe")]
        if name in PYTEST_NAMES:
            return True
        if arg == "-m" and index + 1 < len(args) and args[index + 1] in PYTEST_NAMES:
            return True
        if arg in ("-mpytest", "-mpy.test"):
            return True
    return False


def appended(current: str | None, value: str, separator: str) -> str:
    """The user's `current` value exactly as it was, then `value` (unless already there)."""
    if not current:
        return value
    if value in current.split(separator):
        return current
    return f"{current}{separator}{value}"


def reporter_directory(address: str) -> str | None:
    """The directory on PYTHONPATH, next to the socket, holding only the reporter's copy."""
    directory = os.path.join(os.path.dirname(address), DIRECTORY)
    target = os.path.join(directory, f"{MODULE}.py")
    try:
        with _copy_lock:
            source = SOURCE.read_bytes()
            if not os.path.exists(target) or Path(target).read_bytes() != source:
                with contextlib.suppress(FileExistsError):  # only inside the socket's own directory
                    os.mkdir(directory, mode=0o700)
                partial = f"{target}.{os.getpid()}.{threading.get_ident()}"
                Path(partial).write_bytes(source)
                os.replace(partial, target)  # another tox sharing the socket sees all or nothing
    except OSError:
        return None  # not a directory of ours: this run goes without events
    return directory


@impl
def tox_before_run_commands(tox_env: ToxEnv) -> None:
    address = os.environ.get(ADDRESS_VARIABLE)
    if not address:
        return
    commands = [command for key in COMMAND_KEYS for command in tox_env.conf[key]]
    if not any(runs_pytest(command.args) for command in commands):
        return  # not a pytest env: untouched, and its output is parsed as text
    directory = reporter_directory(address)
    if directory is None:
        return
    current = tox_env.environment_variables
    ours = {
        "PYTHONPATH": appended(current.get("PYTHONPATH"), directory, os.pathsep),
        "PYTEST_PLUGINS": appended(current.get("PYTEST_PLUGINS"), MODULE, ","),
        ADDRESS_VARIABLE: address,
        ENV_VARIABLE: tox_env.name,
    }
    if os.environ.get(REPORTLOG_VARIABLE) == "1":
        ours[REPORTLOG_VARIABLE] = "1"
    tox_env.conf["set_env"].update(ours)
