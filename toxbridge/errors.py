"""One error tree for everything a user can cause or meet.

A `ToxbridgeError` is a user-facing condition: the CLI prints its message as one line
on stderr and exits non-zero; the LSP bridge turns it into a JSON-RPC error. Anything
else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class ToxbridgeError(Exception):
    """A condition the user can act on; `str(error)` is the one-line explanation.

    Exit codes are 122-125, which tox and pytest do not use, so that a script can tell
    toxbridge's own failures from tox's exit code: 125 bad usage or configuration
    (nothing was sent), 124 no server answered, 123 the server refused (keys or the
    request), 122 the connection was lost mid-request.
    """

    exit_code: int = 125


class ConfigError(ToxbridgeError):
    """Bad options, environment variables or configuration files."""


class ProtocolError(ToxbridgeError):
    """A message that does not follow the wire protocol.

    `code` is one of the protocol's error codes; `request_id` is the id of the request
    that caused it when it could be read, so the reply can name it.
    """

    exit_code = 123

    def __init__(self, code: str, message: str, request_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


class ServerUnreachable(ToxbridgeError):
    """No toxbridge server answered at the endpoint within the timeout."""

    exit_code = 124


class AuthenticationFailed(ServerUnreachable):
    """The server is there, but the security handshake failed (keys missing or unknown)."""

    exit_code = 123


class ConnectionLost(ToxbridgeError):
    """The server stopped answering, or restarted, while a request was in flight."""

    exit_code = 122


class RemoteError(ToxbridgeError):
    """The server answered with an `error` reply."""

    exit_code = 123

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"server refused the request ({code}): {message}")
        self.code = code
        self.message = message


class InputError(ToxbridgeError):
    """A file or stream given on the command line could not be read."""
