"""`toxbridge run [OPTIONS] [TOX ARGS…]`: tox in the container, as if it ran here.

Which arguments are toxbridge's and which are tox's: `toxbridge.cli.run_args`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import select
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from toxbridge.config import Endpoint

if TYPE_CHECKING:
    from toxbridge.net.client import Client


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_main(args))


async def _main(args: argparse.Namespace) -> int:
    from toxbridge.cli.connect import connection, open_client
    from toxbridge.cli.run_args import request_env

    settings = connection(args)
    color = args.color == "yes" or (args.color == "auto" and os.isatty(1))
    columns = shutil.get_terminal_size().columns if os.isatty(1) else None
    env = request_env(args, settings.project, columns=columns)
    async with contextlib.AsyncExitStack() as stack:
        if args.local:
            endpoint = await stack.enter_async_context(local_server(os.getcwd()))
            settings = replace(settings, endpoint=endpoint, keys=None)
            print(
                f"toxbridge: a private server for this run (--local) at {endpoint}; "
                "tox's output follows",
                file=sys.stderr,
                flush=True,
            )
        client = open_client(settings, liveness_s=args.liveness)
        async with client:
            return await relay(client, args.tox_args, color, env)
    raise AssertionError("unreachable")  # pragma: no cover


async def relay(client: Client, tox_args: Sequence[str], color: bool, env: dict[str, str]) -> int:
    """Run tox remotely, copy its output to ours, return its exit code.

    First SIGINT: ask the server to cancel, and keep relaying until the run's real exit.
    Second SIGINT: give up at once with 130.
    """
    from toxbridge.wire import protocol

    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    interrupts = 0
    async with client.run(tox_args, env=env, color=color) as remote:

        def on_sigint() -> None:
            nonlocal interrupts
            interrupts += 1
            if interrupts == 1:
                print(
                    "\ntoxbridge: cancelling the remote run (press ^C again to exit now)",
                    file=sys.stderr,
                    flush=True,
                )
                client.send_nowait(protocol.Cancel(client.new_id(), remote.id))
            elif main_task is not None:
                main_task.cancel()

        loop.add_signal_handler(signal.SIGINT, on_sigint)
        try:
            async for event in remote:
                match event:
                    case protocol.Output(stream=protocol.Stream.STDOUT, data=data):
                        _write_all(1, data)
                    case protocol.Output(data=data):
                        _write_all(2, data)
                    case protocol.Queued(position=position):
                        print(
                            f"toxbridge: queued, {position} run(s) ahead",
                            file=sys.stderr,
                            flush=True,
                        )
                    case protocol.Exit(code=code):
                        return code
        except asyncio.CancelledError:
            return 130
        finally:
            loop.remove_signal_handler(signal.SIGINT)
    raise AssertionError("a run always ends with its exit")  # pragma: no cover


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:  # a terminal someone left in non-blocking mode
            select.select([], [fd], [])
            continue
        view = view[written:]


@contextlib.asynccontextmanager
async def local_server(root: str) -> AsyncIterator[Endpoint]:
    """A private server for this process only, on an ipc socket in a temp dir."""
    from toxbridge.server.app import Server, ServerSettings
    from toxbridge.server.execute import RunSettings

    with tempfile.TemporaryDirectory(prefix="toxbridge-") as tmp:
        endpoint = Endpoint(f"ipc://{tmp}/server.sock")
        run_settings = RunSettings(root=root, tox_command=(sys.executable, "-m", "tox"))
        server = Server(ServerSettings(endpoint, run_settings))
        serving = asyncio.create_task(server.serve())
        bound = asyncio.create_task(server.bound.wait())
        try:
            await asyncio.wait({serving, bound}, return_when=asyncio.FIRST_COMPLETED)
            if serving.done():
                serving.result()  # raises what stopped it from binding
            yield endpoint
        finally:
            bound.cancel()
            server.stop(now=True)
            await serving
