"""Bridge benchmarks: start-up, tox/ping latency, failure-to-diagnostic latency, relay
throughput against the CLI on 200 MB, and the bridge's peak RSS during that run.

Run: `python benchmarks/bench_bridge.py [--quick]`. It builds the tests' sample tox
project in a temp dir, starts a real `toxbridge serve` on a free 127.0.0.1 port and real
`toxbridge lsp` processes driven by pytest-lsp's client. Figures are medians (with min
and max): the machine is shared, so single samples mean little. The latency from a
failure's last line to its diagnostic is measured inside one process, with the real
server class and a writer that records when the notification's bytes are written.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

from tests.conftest import free_port, make_project, start_server, toxbridge  # noqa: E402
from toxbridge.lsp.handlers import build_server  # noqa: E402
from toxbridge.lsp.progress import RunProgress  # noqa: E402
from toxbridge.lsp.relay import Relay  # noqa: E402
from toxbridge.lsp.session import Session  # noqa: E402
from toxbridge.lsp.settings import Settings  # noqa: E402
from toxbridge.wire import protocol  # noqa: E402

FAILURE_LOG = b"""\
py: commands[0]> python -m pytest test_sample.py
============================= test session starts ==============================
rootdir: /app
collected 2 items

test_sample.py .F                                                        [100%]

=================================== FAILURES ===================================
__________________________________ test_fails __________________________________

    def test_fails():
>       assert 1 == 2
E       assert 1 == 2

test_sample.py:6: AssertionError
"""
# The line that shows the failure above is complete: its diagnostic is published now.
COMPLETING_LINE = (
    b"=========================== short test summary info ============================\n"
)


def summary(name: str, values: Sequence[float], unit: str, target: str) -> str:
    median = statistics.median(values)
    return (
        f"| {name} | {median:.3g} {unit} | {min(values):.3g}-{max(values):.3g} {unit} | {target} |"
    )


async def open_bridge(root: Path, endpoint: str) -> tuple[LanguageClient, float]:
    started = time.perf_counter()
    config = ClientServerConfig(server_command=[*toxbridge("lsp", "--stdio")])
    client = cast(LanguageClient, await config.start())
    for method in ("tox/output", "tox/status"):  # an editor shows them; here they are dropped
        client.feature(method)(lambda params: None)
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=root.as_uri(),
            initialization_options={"endpoint": endpoint},
        )
    )
    return client, time.perf_counter() - started


async def close_bridge(client: LanguageClient) -> None:
    await client.shutdown_session()
    await client.stop()  # type: ignore[no-untyped-call]  # pytest-lsp is untyped


async def request(client: LanguageClient, method: str, params: Any) -> Any:
    send = client.protocol.send_request_async
    return await send(method, params)  # type: ignore[no-untyped-call]  # untyped in pytest-lsp


async def bench_start(root: Path, endpoint: str, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        client, elapsed = await open_bridge(root, endpoint)
        times.append(elapsed)
        await close_bridge(client)
    return times


async def bench_ping(client: LanguageClient, rounds: int) -> list[float]:
    await request(client, "tox/ping", {})  # connect first
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await request(client, "tox/ping", {})
        times.append((time.perf_counter() - started) * 1000)
    return times


class _TimedWriter:
    """Records when the first publishDiagnostics notification is written."""

    def __init__(self) -> None:
        self.published_at: float | None = None

    def write(self, data: bytes) -> None:
        if self.published_at is None and b"textDocument/publishDiagnostics" in data:
            self.published_at = time.perf_counter()

    def close(self) -> None:
        return None


def bench_failure_latency(rounds: int) -> list[float]:
    """In-process: the real server, session and relay; output events fed by hand."""
    times = []
    for _ in range(rounds):
        server = build_server(Settings(endpoint="tcp://127.0.0.1:1"))
        writer = _TimedWriter()
        server.protocol.set_writer(writer)
        relay = Relay(Session(server, server.base), RunProgress(server, None))
        relay.workspace = "/work"
        relay.handle(protocol.Started("run-1", 1, "/app"))
        relay.handle(protocol.Output("run-1", protocol.Stream.STDOUT, 0, FAILURE_LOG))
        started = time.perf_counter()
        relay.handle(protocol.Output("run-1", protocol.Stream.STDOUT, 1, COMPLETING_LINE))
        assert writer.published_at is not None, "no diagnostic was published"
        times.append((writer.published_at - started) * 1000)
    return times


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cli_relay(endpoint: str, size: int) -> float:
    """Seconds for `toxbridge run` to relay `size` bytes into /dev/null."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOXBRIDGE_")}
    command = toxbridge("run", "--endpoint", endpoint, "-e", "big", "--", str(size))
    with open(os.devnull, "wb") as sink:
        started = time.perf_counter()
        subprocess.run(command, stdout=sink, check=True, env=env)
        return time.perf_counter() - started


def prepare(tmp: Path) -> Path:
    root = make_project(tmp / "project")
    subprocess.run(
        [sys.executable, "-m", "tox", "run", "-e", "big", "--notest"],
        cwd=root,
        check=True,
        capture_output=True,
    )
    return root


async def bench_throughput(
    root: Path, endpoint: str, size: int, rounds: int
) -> tuple[list[float], list[float], list[float]]:
    """Seconds for the CLI and for the bridge, alternating; the bridge's peak RSS (MB)."""
    cli, bridge, rss = [], [], []
    for _ in range(rounds):
        cli.append(await asyncio.to_thread(cli_relay, endpoint, size))
        client, _ = await open_bridge(root, endpoint)
        started = time.perf_counter()
        result = await request(client, "tox/run", {"args": ["-e", "big", "--", str(size)]})
        bridge.append(time.perf_counter() - started)
        assert result.exitCode == 0, result
        server_process = client._server  # the bridge subprocess pytest-lsp started
        assert server_process is not None
        rss.append(peak_rss_mb(server_process.pid))
        await close_bridge(client)
    return cli, bridge, rss


async def main(quick: bool) -> None:
    size = 20_000_000 if quick else 200_000_000
    with tempfile.TemporaryDirectory(prefix="bench-bridge-") as tmp:
        root = prepare(Path(tmp))
        server = start_server(
            root, Path(tmp) / "server.log", endpoint=f"tcp://127.0.0.1:{free_port()}"
        )
        try:
            rows = []
            starts = await bench_start(root, server.endpoint, 3 if quick else 7)
            rows.append(summary("bridge start to `initialize` result", starts, "s", "<= 1.0 s"))
            client, _ = await open_bridge(root, server.endpoint)
            pings = await bench_ping(client, 100 if quick else 500)
            await close_bridge(client)
            rows.append(summary("`tox/ping` through the bridge", pings, "ms", "p50 <= 2 ms"))
            latency = bench_failure_latency(20 if quick else 200)
            rows.append(summary("failure's last line to its diagnostic", latency, "ms", "<= 50 ms"))
            cli, bridge, rss = await bench_throughput(
                root, server.endpoint, size, 1 if quick else 3
            )
            mb = size / 1e6
            rows.append(summary(f"CLI relay of {mb:g} MB", [mb / t for t in cli], "MB/s", "-"))
            rows.append(
                summary(f"bridge relay of {mb:g} MB", [mb / t for t in bridge], "MB/s", "-")
            )
            ratios = [c / b for c, b in zip(cli, bridge, strict=True)]
            rows.append(summary("bridge throughput / CLI", ratios, "x", ">= 0.9x"))
            rows.append(summary("bridge peak RSS during that run", rss, "MB", "-"))
        finally:
            server.stop()
    print("| measure | median | min-max | target |")
    print("|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, 20 MB")
    asyncio.run(main(parser.parse_args().quick))
