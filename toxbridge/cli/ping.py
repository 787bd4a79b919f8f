"""`toxbridge ping`: the server's state, for a person or (`--json`) for a script.

The text is the same whether or not stdout is a terminal: what a log or a pipe holds is
what was on the screen, and a script says what it wants with `--json`, whose keys stay.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from toxbridge.config import add_endpoint_options

if TYPE_CHECKING:
    from toxbridge.config import Endpoint
    from toxbridge.wire.protocol import Pong

# the server's clock and ours differ by less than this on one machine or in a container
_CLOCK_NOTE_S = 1.0


def configure(parser: argparse.ArgumentParser) -> None:
    add_endpoint_options(parser, server=False)
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the state as one JSON object (time, version, protocol, running, "
        "queued, rtt_ms) instead of text",
    )


def run(args: argparse.Namespace) -> int:
    import time

    from toxbridge.cli.connect import connection, one_request
    from toxbridge.errors import ProtocolError
    from toxbridge.net.oneshot import request_id
    from toxbridge.wire.protocol import Ping, Pong

    settings = connection(args)
    pong, rtt = one_request(settings, Ping(request_id()))
    if not isinstance(pong, Pong):
        raise ProtocolError("bad-frame", f"expected pong, got {type(pong).__name__}")
    if args.json:
        import json

        print(json.dumps(as_json(pong, rtt), indent=2))
    else:
        print(describe(pong, rtt, settings.endpoint, now=time.time()))
    return 0


def as_json(pong: Pong, rtt: float) -> dict[str, Any]:
    return {
        "time": pong.time,
        "version": pong.version,
        "protocol": pong.protocol,
        "running": list(pong.running),
        "queued": pong.queued,
        "rtt_ms": round(rtt * 1000, 3),
    }


def describe(pong: Pong, rtt: float, endpoint: Endpoint, *, now: float) -> str:
    """The state as aligned `label  value` lines."""
    lines = [
        ("server", f"toxbridge {pong.version} (protocol {pong.protocol}) at {endpoint}"),
        ("round trip", f"{rtt * 1000:.2f} ms"),
    ]
    offset = pong.time - now
    if abs(offset) >= _CLOCK_NOTE_S:
        direction = "ahead of" if offset > 0 else "behind"
        lines.append(("clock", f"{abs(offset):.1f} s {direction} ours"))
    if not pong.running:
        lines.append(("running", "nothing"))
    for entry in pong.running:
        lines += [("running", _command(entry.get("args"))), ("", _details(entry, pong.time))]
    lines.append(("queued", f"{pong.queued} run{'' if pong.queued == 1 else 's'}"))
    width = max(len(label) for label, _ in lines)
    return "\n".join(f"{label:<{width}}  {value}".rstrip() for label, value in lines)


def _command(args: Any) -> str:
    import shlex

    if not isinstance(args, Sequence) or not all(isinstance(arg, str) for arg in args):
        return "tox (arguments not reported)"
    return shlex.join(["tox", *args])


def _details(entry: Mapping[str, Any], server_time: float) -> str:
    parts = [f"run {entry.get('id', '?')}"]
    if isinstance(entry.get("pid"), int):
        parts.append(f"pid {entry['pid']}")
    started = entry.get("started")
    if isinstance(started, int | float) and not isinstance(started, bool):
        parts.append(f"for {_duration(server_time - started)}")
    else:
        parts.append("starting")
    if isinstance(entry.get("client"), str):
        parts.append(f"client {entry['client']}")
    return ", ".join(parts)


def _duration(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"
