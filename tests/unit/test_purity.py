"""The pure layers stay pure: importing them pulls in no I/O frameworks.

`wire` and `diagnostics` are bytes in, values out; the warm worker runs with nothing but
the standard library (it must import as fast and as predictably as tox itself).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

IO_FRAMEWORKS = ("zmq", "asyncio", "lsprotocol", "pygls", "socket", "selectors")


def imported_after(statement: str) -> set[str]:
    code = f"import json, sys; {statement}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(done.stdout))


@pytest.mark.parametrize(
    "module",
    [
        "toxbridge.wire.protocol",
        "toxbridge.wire.headers",
        "toxbridge.diagnostics",
        "toxbridge.diagnostics.exact",
        "toxbridge.cli.parse",
        "toxbridge.server.policy",
    ],
)
def test_pure_module_imports_no_io_framework(module: str) -> None:
    modules = imported_after(f"import {module}")
    assert module in modules
    assert sorted(m for m in modules if m.split(".")[0] in IO_FRAMEWORKS) == []


def test_warm_worker_imports_only_the_standard_library_and_its_package() -> None:
    modules = imported_after("import toxbridge.process.warm.worker")
    ours = sorted(m for m in modules if m.split(".")[0] == "toxbridge")
    assert ours == [
        "toxbridge",
        "toxbridge.process",
        "toxbridge.process.warm",
        "toxbridge.process.warm.worker",
    ]
    # what site's .pth files import in every interpreter here is not the worker's doing
    added = {m.split(".")[0] for m in modules - imported_after("pass")}
    assert sorted(added - set(sys.stdlib_module_names) - {"toxbridge"}) == []
