"""The diagnostics package stays pure: importing it pulls in no I/O frameworks."""

from __future__ import annotations

import json
import subprocess
import sys


def test_import_pulls_no_zmq_asyncio_or_lsp() -> None:
    code = (
        "import json, sys; import toxbridge.diagnostics, toxbridge.cli_parse; "
        "print(json.dumps(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('zmq', 'asyncio', 'lsprotocol', 'pygls', 'socket'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(done.stdout) == []
