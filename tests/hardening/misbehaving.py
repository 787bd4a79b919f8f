"""A client that grants credit and never reads: what the server must survive.

Shared by tests/hardening/test_misbehaving.py and benchmarks/bench_misbehaving.py.
"""

from __future__ import annotations

import threading

import zmq

from toxbridge.wire import protocol


class Hoarder:
    """A raw DEALER that asks for a big run and grants credit every 0.1 s (which also
    keeps it alive for the watchdog), but takes almost nothing off its socket."""

    def __init__(self, endpoint: str, args: list[str]) -> None:
        self.endpoint = endpoint
        self.args = args
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hoarder", daemon=True)

    def __enter__(self) -> Hoarder:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        socket: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.RCVHWM, 1)  # so its connection backs up to the server at once
        socket.setsockopt(zmq.RCVBUF, 4096)
        socket.connect(self.endpoint)
        try:
            socket.send_multipart(
                protocol.encode(protocol.Run("hoard", tuple(self.args), {}, False, 64))
            )
            while not self._stop.wait(0.1):
                socket.send_multipart(protocol.encode(protocol.Credit("hoard", 64)))
        finally:
            socket.close()
