"""A run's message as a watcher gets it (`watched`), and back (`unwrap`). Pure.

A `watched` message carries the run's own message inside: its kind as `event`, its
fields in `header`, its payload as `data`; or a `gap` (`dropped` messages a slow watcher
lost). See `server.watch` and `net.watching`.
"""

from __future__ import annotations

import json

from toxbridge.errors import ProtocolError
from toxbridge.wire import protocol  # called at run time: protocol imports decode_watched
from toxbridge.wire.headers import HeaderFields
from toxbridge.wire.messages import (
    GAP,
    WATCHED_EVENTS,
    ErrorCode,
    Exit,
    Output,
    Queued,
    Reply,
    Started,
    Test,
    Watched,
)


def watched(watch_id: str, run_id: str, message: Reply) -> Watched:
    """`message` (a run's queued, started, output, test or exit) as `watch_id` sees it."""
    frames = protocol.encode(message)
    fields = json.loads(frames[1])
    kind = fields["kind"]
    header = {k: v for k, v in fields.items() if k not in ("id", "kind")}
    return Watched(watch_id, run_id, kind, header, frames[2] if len(frames) > 2 else None)


def unwrap(message: Watched) -> Reply | None:
    """The watched run's own message (its `id` the run's), or None for a gap.

    Raises ProtocolError if the fields do not make that message."""
    if message.event == GAP:
        return None
    header = {**message.header, "id": message.run, "kind": message.event}
    payload = [message.data] if message.data is not None else []
    reply = protocol.decode([protocol.MAGIC, json.dumps(header).encode(), *payload])
    if not isinstance(reply, Queued | Started | Output | Test | Exit):
        raise ProtocolError(ErrorCode.BAD_ARGS.value, f"cannot watch a {message.event} message")
    return reply


_WATCHED_OWN = ("id", "kind", "run", "event", "dropped")


def decode_watched(fields: HeaderFields, watch_id: str, payload: list[bytes]) -> Watched:
    event = fields.string("event")
    if event not in WATCHED_EVENTS:
        fields.fail(f"field 'event' must be one of {sorted(WATCHED_EVENTS)}, got {event!r}")
    if event in ("output", "test") and not payload:
        fields.fail(f"a watched {event} needs its payload frame")
    header = {k: v for k, v in fields.header.items() if k not in _WATCHED_OWN}
    dropped = fields.integer("dropped", 0)
    return Watched(
        watch_id, fields.string("run"), event, header, payload[0] if payload else None, dropped
    )
