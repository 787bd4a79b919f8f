"""What a client socket's monitor events say about its connection, as errors a user can act on.

No asyncio here: `ConnectionState` is fed monitor events one at a time and keeps the
verdict; the asyncio client (`net.monitor.ConnectionWatch`) and the one-shot client
(`net.oneshot`) both use it, so both tell apart, at once and in the same words, what a
bare timeout cannot: nothing listening (the connection is refused), a listener that is not
a toxbridge server (it accepts and closes, or accepts and never speaks ZMTP), keys that do
not match (one side has none), and a key the server does not know.
"""

from __future__ import annotations

import socket
import struct

import zmq

from toxbridge.errors import AuthenticationFailed, ServerUnreachable, ToxbridgeError

HANDSHAKE_FAILURES = (
    zmq.Event.HANDSHAKE_FAILED_AUTH
    | zmq.Event.HANDSHAKE_FAILED_PROTOCOL
    | zmq.Event.HANDSHAKE_FAILED_NO_DETAIL
)
CLIENT_EVENTS = (
    HANDSHAKE_FAILURES
    | zmq.Event.HANDSHAKE_SUCCEEDED
    | zmq.Event.CONNECTED
    | zmq.Event.CONNECT_RETRIED
    | zmq.Event.DISCONNECTED
)
MISMATCH = zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
PROBE_S = 1.0


class ConnectionState:
    """The state of a client socket's connection, kept current from its monitor events.

    `handle` returns True when the peer hung up mid-handshake: only a probe of the address
    (`speaks_zmtp`) tells a listener that is no toxbridge server from a server whose refusal
    of our keys did not arrive in time; the caller probes and reports with `probed`.
    """

    def __init__(self, endpoint: str, *, has_keys: bool) -> None:
        self.endpoint = endpoint
        self.has_keys = has_keys
        self.up = False  # the handshake succeeded and the connection still stands
        self.accepted = False  # a listener took the connection; the handshake is pending
        self.failure: ToxbridgeError | None = None  # the last attempt's definite failure
        # zmq retries after a refusal or a hang-up, not after the server refused our keys:
        # only such a final failure answers a request that starts after it happened
        self.final = False
        self._attempt_accepted = False  # this attempt reached a listener (no refusal)

    def handle(self, event: zmq.Event, value: int) -> bool:
        """Take one monitor event; True asks the caller to probe the address."""
        if event == zmq.Event.CONNECTED:
            self.accepted = self._attempt_accepted = True
            self.failure, self.final = None, False
        elif event == zmq.Event.HANDSHAKE_SUCCEEDED:
            self.up, self.failure = True, None
        elif event == zmq.Event.DISCONNECTED:
            self.up = self.accepted = False
        elif event == zmq.Event.CONNECT_RETRIED:
            accepted, self._attempt_accepted = self._attempt_accepted, False
            if not self.up and not accepted:  # a refusal, again
                self.fail(
                    ServerUnreachable(
                        f"nothing is listening at {self.endpoint} (connection refused): start "
                        "`toxbridge serve` there, or point this client at the right "
                        "-H/-p/--endpoint (TOXBRIDGE_ENDPOINT; `endpoint` in an editor)"
                    )
                )
        elif event == zmq.Event.HANDSHAKE_FAILED_NO_DETAIL:
            self.failure = None
            return True
        elif event & HANDSHAKE_FAILURES:
            self.fail(self._handshake_failure(event, value), final=True)
        return False

    def fail(self, failure: ToxbridgeError, *, final: bool = False) -> None:
        self.failure, self.final = failure, final

    def probed(self, speaks_zmtp: bool) -> ToxbridgeError | None:
        """The verdict once a probe has told whether a ZMQ peer listens; None when the
        connection has come up or failed otherwise in the meantime."""
        if self.failure is not None or self.up:
            return None
        if not speaks_zmtp:
            failure: ToxbridgeError = not_a_server(
                self.endpoint, "accepted the connection and closed it"
            )
        elif self.has_keys:
            failure = AuthenticationFailed(
                f"{self.endpoint}: the security handshake failed: this client's server.key "
                "does not match the server's (both must come from the same `toxbridge keygen`)"
            )
        else:
            failure = self._handshake_failure(zmq.Event.HANDSHAKE_FAILED_PROTOCOL, MISMATCH)
        self.fail(failure)
        return failure

    def _handshake_failure(self, event: zmq.Event, value: int) -> ToxbridgeError:
        where = self.endpoint
        if event == zmq.Event.HANDSHAKE_FAILED_AUTH:
            return AuthenticationFailed(
                f"{where}: the server refused this client's key: ask its admin to add your "
                "client.key to the server's authorized/ directory (`toxbridge keygen`)"
            )
        if event == zmq.Event.HANDSHAKE_FAILED_PROTOCOL and value == MISMATCH:
            if self.has_keys:
                return AuthenticationFailed(
                    f"{where}: this client has keys but the server uses none: drop --keys "
                    "(TOXBRIDGE_KEYS), or start the server with --keys DIR"
                )
            return AuthenticationFailed(
                f"{where}: the server requires keys: pass --keys DIR (or TOXBRIDGE_KEYS) with "
                "the server.key and client key from the server's `toxbridge keygen`"
            )
        return AuthenticationFailed(
            f"{where}: the security handshake failed (a protocol error, {value:#x}): both "
            "sides need keys from the same `toxbridge keygen`"
        )

    def timed_out(self, seconds: float) -> ToxbridgeError:
        """The error for a request that got no answer within `seconds`."""
        if self.failure is not None:
            return self.failure
        if self.accepted and not self.up:
            return not_a_server(
                self.endpoint, f"accepted the connection but said nothing for {seconds:g}s"
            )
        return ServerUnreachable(
            f"no toxbridge server answered at {self.endpoint} within {seconds:g}s; start one "
            "in the container with `toxbridge serve` (same port or --endpoint), or point this "
            "client at it: -H/-p/--endpoint or TOXBRIDGE_ENDPOINT on the command line, the "
            "`endpoint` setting in an editor"
        )


def monitor_event(frames: list[bytes]) -> tuple[zmq.Event, int] | None:
    """(event, value) of a monitor socket's message, None for one we do not know. Parsed
    here: zmq.utils.monitor would import zmq.asyncio, and with it asyncio."""
    if len(frames) != 2 or len(frames[0]) != 6:
        return None
    number, value = struct.unpack("=hi", frames[0])
    try:
        return zmq.Event(number), value
    except ValueError:
        return None


def not_a_server(endpoint: str, what: str) -> ServerUnreachable:
    return ServerUnreachable(
        f"something at {endpoint} {what} without answering as a toxbridge server: is "
        "`toxbridge serve` running (in the container, behind the published port)?"
    )


def is_zmtp_greeting(signature: bytes) -> bool:
    """Every ZMQ peer sends 0xFF, 8 bytes, 0x7F as soon as it accepts, before anything else."""
    return len(signature) == 10 and signature[0] == 0xFF and signature[9] == 0x7F


def speaks_zmtp(endpoint: str, within: float = PROBE_S) -> bool:
    """True when what listens at `endpoint` greets with a ZMTP signature (blocking; for the
    one-shot client, which has no event loop)."""
    transport, _, address = endpoint.partition("://")
    try:
        if transport == "ipc":
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.settimeout(within)
                probe.connect(address)
                return is_zmtp_greeting(_first_bytes(probe, 10))
        host, _, port = address.rpartition(":")
        with socket.create_connection((host.strip("[]"), int(port)), timeout=within) as probe:
            return is_zmtp_greeting(_first_bytes(probe, 10))
    except (OSError, ValueError):
        return False


def _first_bytes(probe: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        more = probe.recv(size - len(data))
        if not more:
            break
        data += more
    return data
