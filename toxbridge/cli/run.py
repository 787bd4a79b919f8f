"""`toxbridge run [OPTIONS] [TOX ARGS…]`: tox in the container, as if it ran here.

Which arguments are toxbridge's and which are tox's: `toxbridge.cli.run_args`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from toxbridge.config import Endpoint

if TYPE_CHECKING:
    from toxbridge.cli.results import RunResults
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
        client = open_client(settings, liveness_s=args.liveness, name="toxbridge run")
        project = settings.project.path
        results = _results(args, os.path.dirname(project) if project else os.getcwd())
        async with client:
            code = await relay(client, args.tox_args, color, env, results)
        if results is not None:
            await _report(args, results)
        return code
    raise AssertionError("unreachable")  # pragma: no cover


def _results(args: argparse.Namespace, local_root: str) -> RunResults | None:
    """What the run's test events are for, if anything: a report log, a summary."""
    from toxbridge.cli.results import RunResults

    summary = args.summary and os.isatty(2)
    if args.report_log is None and not summary:
        return None
    return RunResults(local_root, report_log=args.report_log is not None)


async def _report(args: argparse.Namespace, results: RunResults) -> None:
    if args.report_log is not None:
        await asyncio.to_thread(results.write_report_log, args.report_log)
    if args.summary and os.isatty(2) and (lines := results.summary()):
        print("\n".join(["", *lines]), file=sys.stderr, flush=True)


async def relay(
    client: Client,
    tox_args: Sequence[str],
    color: bool,
    env: dict[str, str],
    results: RunResults | None = None,
) -> int:
    """Run tox remotely, copy its output to ours, return its exit code (see cli.relay)."""
    from toxbridge.cli.relay import relay as relay_run

    return await relay_run(client, tox_args, color, env, results)


@contextlib.asynccontextmanager
async def local_server(root: str) -> AsyncIterator[Endpoint]:
    """A private server for this process only, on an ipc socket in a temp dir."""
    from toxbridge.process.child import become_subreaper
    from toxbridge.server.app import Server, ServerSettings
    from toxbridge.server.execute import RunSettings

    become_subreaper()  # so that what the run leaves outside its group is found, and killed
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
