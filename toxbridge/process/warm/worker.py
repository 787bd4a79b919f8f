"""The warm tox worker: imports tox once, then forks one fresh tox per run.

Started by the server as `python -m toxbridge.process.warm.worker FD SERVER_PID`, in the tox
root, with the server's environment, /dev/null and pipes for stdio: how the cold path
starts `python -m tox`, so the interpreter builds the same `sys.std*` objects (buffering,
encoding, seekability), `sys.path` and signal dispositions. FD is a SOCK_SEQPACKET
socket to the server carrying JSON messages:

    worker → server  {"ready": true, "pid": n}                  once tox is imported
    server → worker  {"args": [...], "env": {...}, "cwd": str, "tty": false}
                                                             + 2 fds: tox's stdout, stderr
                     ... "tty": true} + 1 fd: a pty's slave, tox's controlling terminal
    worker → server  {"pid": n}                                 the child is a session leader
    worker → server  {"status": n}                              os.waitstatus_to_exitcode

The worker never runs tox itself, so every child starts from tox's just-imported state.
The child leaves through the interpreter's normal exit path (atexit, thread joins,
flushing, ^C as a re-raised SIGINT), the same as a cold `python -m tox`.

Only the standard library here, and nothing imported from toxbridge but the package.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import runpy
import signal
import socket
import sys
import time
from typing import Any

MAX_MESSAGE = 1 << 20

# What `tox -e py`, `tox -l` and `tox -p` import beyond `tox.run`: tox's commands and
# virtualenv's discovery and seeders, which tox loads through entry points. Only modules
# whose import is invisible belong here: virtualenv's creators are left out because
# importing them probes the file system and logs it (tox -vv shows that), and a child
# must do and show that itself. Note tox.tox_env.api keeps the cwd at import: the
# worker runs in the root, as every run does.
PRELOAD = (
    "tox.run",
    "tox.session.cmd.legacy",
    "tox.session.cmd.list_env",
    "tox.session.cmd.depends",
    "tox.session.cmd.devenv",
    "tox.session.cmd.exec_",
    "tox.session.cmd.quickstart",
    "tox.session.cmd.show_config",
    "tox.session.cmd.version_flag",
    "tox.session.cmd.schema",
    "tox.session.cmd.man",
    "virtualenv.discovery.builtin",
    "virtualenv.seed.embed.via_app_data.via_app_data",
    "virtualenv.seed.embed.pip_invoke",
)


def preload() -> None:
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # another tox or virtualenv version: the child imports lazily
            continue


def send(channel: socket.socket, message: dict[str, Any]) -> None:
    channel.send(json.dumps(message).encode())


def serve(channel: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """Fork a child per request; returns only in a child, with its request and fds."""
    send(channel, {"ready": True, "pid": os.getpid()})
    while True:
        data, fds, _, _ = socket.recv_fds(channel, MAX_MESSAGE, 2)
        if not data:
            sys.exit(0)  # the server is gone
        request = json.loads(data)
        synced_read, synced_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(synced_read)
            os.setsid()  # before the server may signal the group: see the read below
            os.close(synced_write)
            return request, fds
        os.close(synced_write)
        for fd in fds:
            os.close(fd)
        os.read(synced_read, 1)  # EOF once the child is a session leader (or dead)
        os.close(synced_read)
        send(channel, {"pid": pid})
        _, status = os.waitpid(pid, 0)
        send(channel, {"status": os.waitstatus_to_exitcode(status)})


def become_tox(channel: socket.socket, request: dict[str, Any], fds: list[int]) -> None:
    """In the child: stdio, environment and directory as a cold `python -m tox` has them."""
    channel.close()
    if request.get("tty"):
        become_terminal_user(fds[0])
    else:
        stdout, stderr = fds
        null = os.open(os.devnull, os.O_RDONLY)
        for fd, target in ((null, 0), (stdout, 1), (stderr, 2)):
            os.dup2(fd, target)
            os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv[1:] = request["args"]  # argv[0] is set by runpy, as `python -m tox` has it
    # files created since the worker started must be found like in a fresh interpreter,
    # including plugins' entry points (importlib.metadata caches per path)
    importlib.invalidate_caches()
    # log records' relativeCreated (tox -vv prints it) counts from logging's import
    logging._startTime = time.time()  # type: ignore[attr-defined]  # private, stable since 2.x


def become_terminal_user(terminal: int) -> None:
    """The pty's slave as stdin, stdout, stderr and controlling terminal (we lead a new
    session), and stdout line-buffered, as a fresh interpreter makes it on a terminal."""
    import fcntl
    import termios

    fcntl.ioctl(terminal, termios.TIOCSCTTY, 0)
    for target in (0, 1, 2):
        os.dup2(terminal, target)
    os.close(terminal)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # a TextIOWrapper


def die_with(parent_pid: int, sig: signal.Signals) -> None:
    """Get `sig` when the parent dies, even by SIGKILL (Linux); exit if it is gone already."""
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, int(sig), 0, 0, 0)
    if os.getppid() != parent_pid:  # it died before the prctl
        os._exit(128 + int(sig))


def main() -> None:
    channel = socket.socket(fileno=int(sys.argv[1]))
    die_with(int(sys.argv[2]), signal.SIGKILL)
    preload()
    worker = os.getpid()
    request, fds = serve(channel)
    # tox, as on the cold path, learns that its parent (this worker, which dies with the
    # server) died, and tears down as on ^C
    die_with(worker, signal.SIGINT)
    become_tox(channel, request, fds)
    runpy.run_module("tox", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
