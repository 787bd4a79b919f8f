"""Capture the reporter's records of real tox runs, for the exact diagnostics' unit tests.

Run by hand: `python -m tests.diagnostics.make_exact_records`. Each capture is a real tox
run (tests/reporter/conftest.py's `run_tox`, with a real event channel) of a real sample
project: the reporter's outcomes suite and its broken modules, and a src-layout package
installed into its env as a wheel, whose crashes happen in the env's installed copy. The
records are written as the channel carried them, one `events.encode` line each, with the
project's temporary root renamed `/project` (in paths and texts) so that the files do not
change from one capture to the next. Nothing in them is written by hand.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from tests.conftest import site_packages_override
from tests.reporter.conftest import REPORTLOG, create_envs, run_tox, write_sample
from toxbridge.reporter import events

DATA = Path(__file__).resolve().parent / "data" / "exact"
ROOT = "/project"  # where the captured records say the project was

SRC_LAYOUT = {
    "pyproject.toml": """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "calc"
version = "0.1"

[tool.setuptools.packages.find]
where = ["src"]
""",
    "tox.ini": """\
[tox]
env_list = py

[testenv]
package = wheel
system_site_packages = true
commands = python -m pytest -p no:cacheprovider {posargs:tests}
""",
    "src/calc/__init__.py": "",
    "src/calc/ops.py": """\
def divide(a, b):
    return a / b


def check_positive(number):
    assert number > 0, f"{number} is not positive"
    return number


def parse(text):
    import json

    return json.loads(text)
""",
    "tests/conftest.py": """\
import pytest

from calc.ops import divide


@pytest.fixture
def broken_fixture():
    return divide(1, 0)
""",
    "tests/test_calc.py": """\
from calc.ops import check_positive, divide, parse


def test_divides():
    assert divide(4, 2) == 2


def test_divides_by_zero():
    divide(1, 0)


def test_checks_in_the_package():
    check_positive(-1)


def test_compares():
    assert divide(1, 4) == 0.5 + 0.25


def test_fails_in_the_standard_library():
    parse("{")


def test_fixture_crashes_in_the_package(broken_fixture):
    pass
""",
}


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def save(name: str, root: Path, records: list[events.Record]) -> None:
    rename = events.prefix_map([(str(root), ROOT)])
    lines = [
        # the texts (longreprtext) name the root too
        events.encode(events.map_paths(record, rename)).replace(str(root).encode(), ROOT.encode())
        for record in records
    ]
    (DATA / f"{name}.jsonl").write_bytes(b"".join(lines))
    print(f"{name}: {len(lines)} records")


async def capture(base: Path) -> None:
    outcomes = write_sample(base / "outcomes")
    create_envs(outcomes, "py")
    run = await run_tox(outcomes, "-e", "py", env=REPORTLOG)
    save("outcomes", outcomes, run.records)
    run = await run_tox(outcomes, "-e", "py", "--", "broken")
    save("broken", outcomes, run.records)
    run = await run_tox(outcomes, "-e", "py", "--", "-k", "lists or parametrized", "tests")
    save("partial", outcomes, run.records)

    src = write(base / "src-layout", SRC_LAYOUT)
    create_envs(src, "py")
    run = await run_tox(src, "-e", "py")
    save("src-layout", src, run.records)


def main() -> None:
    # what tests/conftest.py's pytest_configure gives every tox of the suite
    os.environ.setdefault("TOX_OVERRIDE", site_packages_override())
    DATA.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tb-exact-") as base:
        asyncio.run(capture(Path(base)))


if __name__ == "__main__":
    main()
