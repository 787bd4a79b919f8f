"""A user's error reaches the editor as a sentence; the bridge's log gets one line, no traceback."""

from __future__ import annotations

import logging
import sys

import pytest
from pygls.exceptions import JsonRpcServerError

import toxbridge.lsp.server  # noqa: F401 (installs the filter on pygls's logger)


def failed_request_record(error: Exception) -> logging.LogRecord:
    try:
        raise error
    except Exception:
        exc_info = sys.exc_info()
    return logging.LogRecord(
        "pygls.protocol.json_rpc", logging.ERROR, __file__, 1, 'Exception for "%s"', (7,), exc_info
    )


def test_user_error_is_logged_as_one_line(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("pygls.protocol.json_rpc")
    error = JsonRpcServerError("no toxbridge server answered", -32001)  # type: ignore[no-untyped-call]
    with caplog.at_level(logging.INFO, logger="pygls.protocol.json_rpc"):
        logger.handle(failed_request_record(error))
    (record,) = caplog.records
    assert record.getMessage() == "request failed: no toxbridge server answered"
    assert record.exc_info is None
    assert record.levelno == logging.INFO


def test_a_bug_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("pygls.protocol.json_rpc")
    with caplog.at_level(logging.INFO, logger="pygls.protocol.json_rpc"):
        logger.handle(failed_request_record(KeyError("bug")))
    (record,) = caplog.records
    assert record.exc_info is not None
    assert record.levelno == logging.ERROR
