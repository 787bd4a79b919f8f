"""Build the independent part of the parser's corpus: real projects' own test suites.

Run by hand (it is not a test), from the repository root:

    python tests/diagnostics/make_project_corpus.py [--only NAME…] [--pack-only]

For each project of `corpus_projects.py` it downloads the pinned sdist with pip (cached in
/var/tmp/tbcorpus/sdists), unpacks a fresh copy, applies the mutations and fault files,
and runs the project's tests under pytest 7.4, 8.x and 9.x (throwaway venvs in
/var/tmp/tbcorpus/venvs; exact versions in `VENVS`) and through tox 4 (`tox run`, `tox p`),
with every `--tb` style and a rotation of `-q`, `-v`, `-rA`, `--color=yes` and xdist. The
truth comes from pytest itself (the `tbtruth.py` plugin). Each run's raw output and truth are
kept under /var/tmp/tbcorpus/out, so an interrupted generation resumes where it stopped;
then every project's runs are packed into `data/projects/<name>.tar.xz` (xz-compressed, about
a tenth of the raw size; nothing is trimmed, so each log is exactly what pytest printed).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from tests.diagnostics.corpus_faults import FAULTS  # noqa: E402
from tests.diagnostics.corpus_projects import PROJECTS, Project  # noqa: E402

BASE = Path("/var/tmp/tbcorpus")
SDISTS, WORK, OUT, PLUGIN = BASE / "sdists", BASE / "work", BASE / "out", BASE / "plugin"
DATA = HERE / "data" / "projects"
COMMON = ("pytest", "xdist", "hypothesis")
EXTRA = ("more-itertools", "jaraco.classes", "typing_extensions")
VENVS = {
    "p7": ("pytest==7.4.4", "pytest-xdist==3.5.0", "hypothesis==6.82.0"),
    "p8": ("pytest==8.4.2", "pytest-xdist==3.8.0", "hypothesis==6.112.0"),
    "p9": ("pytest==9.2.0", "pytest-xdist==3.8.0", "hypothesis==6.170.17"),
}
STYLES = ("auto", "long", "short", "line", "native", "no")
MODS: tuple[tuple[str, ...], ...] = (
    ("-rA",),
    ("-q",),
    ("-v", "-rA"),
    ("--color=yes",),
    ("-n", "2"),
    ("-q", "-rA", "--color=yes"),
    ("-v", "-n", "2", "-rA"),
)
TOX_INI = """\
[tox]
env_list = t7, t9

[testenv]
skip_install = true
base_python = python3.11
set_env =
    PYTHONPATH = {pythonpath}
pass_env = TB_ROOT, TB_TRUTH_FILE, COLUMNS, PYTHONHASHSEED
commands = python -m pytest -p tbtruth -p pytester -p no:cacheprovider {{posargs}}

[testenv:t7]
deps = {deps7}

[testenv:t9]
deps = {deps9}
"""


def venv_python(name: str) -> Path:
    venv = BASE / "venvs" / name
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        packages = [*VENVS[name], *EXTRA]
        subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True)
    return python


def sdist(project: Project) -> Path:
    SDISTS.mkdir(parents=True, exist_ok=True)
    stem = f"{project.name.replace('-', '_').replace('.', '_')}-{project.version}"
    found = [p for p in SDISTS.glob("*.tar.gz") if p.name.lower() == f"{stem}.tar.gz".lower()]
    if not found:
        spec = f"{project.name}=={project.version}"
        command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps"]
        subprocess.run([*command, "--no-binary", ":all:", "-d", str(SDISTS), spec], check=True)
        found = [p for p in SDISTS.glob("*.tar.gz") if p.name.lower() == f"{stem}.tar.gz".lower()]
    return found[0]


def prepare(project: Project) -> Path:
    """A fresh copy of the sdist with the faults in, and a stub of its installed metadata."""
    root = WORK / project.name
    shutil.rmtree(root, ignore_errors=True)
    WORK.mkdir(parents=True, exist_ok=True)
    with tarfile.open(sdist(project)) as archive:
        top = archive.getnames()[0].split("/")[0]
        archive.extractall(WORK / "unpack", filter="data")
    shutil.move(WORK / "unpack" / top, root)
    if project.rename:
        (root / project.rename[0]).rename(root / project.rename[1])
    for mutation in project.mutations:
        target = root / mutation.path
        text = target.read_text(encoding="utf-8")
        if mutation.old not in text:
            raise SystemExit(f"{project.name}: {mutation.path} lacks {mutation.old!r}")
        target.write_text(text.replace(mutation.old, mutation.new, 1), encoding="utf-8")
    fields = {"module": project.module, "call": project.call, "value": project.value}
    for fault in project.faults:
        for name, template in FAULTS[fault].items():
            text = template.format(**fields).lstrip("\n")
            target = root / project.tests_dir / name.lstrip("+")
            if name.startswith("+") and target.exists():
                text = target.read_text(encoding="utf-8") + "\n" + text
            target.write_text(text, encoding="utf-8")
    dist_info = f"{project.name.replace('-', '_')}-{project.version}.dist-info"
    meta = BASE / "meta" / project.name / dist_info
    meta.mkdir(parents=True, exist_ok=True)
    (meta / "METADATA").write_text((root / "PKG-INFO").read_text(encoding="utf-8"), "utf-8")
    return root


def targets(project: Project) -> list[str]:
    """The project's targets plus the fault files they do not already cover."""
    chosen = list(project.targets)
    paths = [t for t in chosen if not t.startswith("-")]
    for fault in project.faults:
        for name in FAULTS[fault]:
            if name.startswith("+") or not name.startswith("test_"):
                continue
            path = f"{project.tests_dir}/{name}".removeprefix("./")
            if paths and not any(path.startswith(t.rstrip("/") + "/") for t in paths):
                chosen.append(path)
    return chosen


def runs(index: int) -> list[tuple[str, str, list[str]]]:
    """(run name, venv or tox mode, pytest options) for the project at `index`."""
    out = []
    for v, venv in enumerate(sorted(VENVS)):
        for s, style in enumerate(STYLES):
            mods = MODS[(index + v * 2 + s) % len(MODS)]
            flags = "".join(m.lstrip("-").split("=")[0] for m in mods if m != "2")
            out.append((f"{venv}-{style}-{flags}", venv, [f"--tb={style}", *mods]))
    # tox runs one env after the other; `tox p` prints each env's output when it ends.
    out.append(("tox-run-rA", "tox", ["-rA"]))
    out.append(("tox-p-short", "tox-p", ["--tb=short"]))
    return out


def pythonpath(project: Project, root: Path) -> str:
    entries = [str(root / entry) for entry in project.pythonpath]
    return os.pathsep.join([*entries, str(PLUGIN), str(BASE / "meta" / project.name)])


def run_one(project: Project, root: Path, name: str, runner: str, options: list[str]) -> None:
    out = OUT / project.name
    log_file, truth_path = out / f"{name}.log", out / f"{name}.truth.json"
    if log_file.exists() and truth_path.exists():
        return
    out.mkdir(parents=True, exist_ok=True)
    truth_file = out / f"{name}.jsonl"
    truth_file.unlink(missing_ok=True)
    env = {
        **os.environ,
        "TB_ROOT": str(root),
        "TB_TRUTH_FILE": str(truth_file),
        "PYTHONPATH": pythonpath(project, root),
        "COLUMNS": "100",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for variable in ("PYTEST_ADDOPTS", "PY_COLORS", "FORCE_COLOR", "NO_COLOR"):
        env.pop(variable, None)
    args = [*options, "--continue-on-collection-errors", *project.extra_args, *targets(project)]
    if runner.startswith("tox"):
        mode = ["p"] if runner == "tox-p" else ["run"]
        command = ["tox", "-c", "tox-corpus.ini", *mode, "-e", "t7,t9", "--", *args]
    else:
        plugins = ["-p", "tbtruth", "-p", "pytester", "-p", "no:cacheprovider"]
        command = [str(venv_python(runner)), "-m", "pytest", *plugins, *args]
    done = subprocess.run(
        command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False
    )
    records = []
    if truth_file.exists():
        lines = truth_file.read_text(encoding="utf-8").splitlines()
        records = collect_as_shown([json.loads(line) for line in lines])
        truth_file.unlink()
    meta = {
        "project": f"{project.name}=={project.version}",
        "root": str(root),
        "command": command[1:],
        "exit": done.returncode,
        "style": options[0].removeprefix("--tb="),
        "options": options,
        "runner": runner,
    }
    text = json.dumps({"meta": meta, "truth": records}, indent=1, ensure_ascii=False)
    log_file.write_bytes(done.stdout)
    truth_path.write_text(text + "\n", encoding="utf-8")
    print(f"{project.name} {name}: exit {done.returncode}, {len(records)} truth records")


def collect_as_shown(records: list[dict[str, object]]) -> list[dict[str, object]]:
    """One collection record per time the terminal showed that error (`shown` markers).

    Collection errors are recorded where they happen (each xdist worker, with the traceback
    that gives their site); how many the output shows is what the process that printed
    them saw.
    """

    def key(record: dict[str, object]) -> str:
        return json.dumps([record["nodeid"], record.get("env")])

    shown = Counter(key(r) for r in records if r["kind"] == "shown")
    sites: dict[str, list[dict[str, object]]] = {}
    for record in sorted(records, key=json.dumps):
        if record["kind"] == "collect":
            sites.setdefault(key(record), []).append(record)
    kept = [r for r in records if r["kind"] not in ("collect", "shown")]
    for name, count in shown.items():
        found = sites.get(name, [])
        kept += [found[min(i, len(found) - 1)] for i in range(count)] if found else []
    return sorted(kept, key=json.dumps)


def write_tox_ini(project: Project, root: Path) -> None:
    def deps(venv: str) -> str:
        return "\n    ".join(["", *VENVS[venv], *EXTRA])

    text = TOX_INI.format(pythonpath=pythonpath(project, root), deps7=deps("p7"), deps9=deps("p9"))
    (root / "tox-corpus.ini").write_text(text, encoding="utf-8")


def pack(project: Project) -> None:
    """Every run of `project` in one deterministic tar.xz (sorted names, no timestamps)."""
    DATA.mkdir(parents=True, exist_ok=True)
    files = sorted((OUT / project.name).glob("*.log")) + sorted(
        (OUT / project.name).glob("*.truth.json")
    )
    target = DATA / f"{project.name}.tar.xz"
    with tarfile.open(target, "w:xz", preset=9) as archive:
        for path in sorted(files, key=lambda p: p.name):
            info = tarfile.TarInfo(path.name)
            data = path.read_bytes()
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    print(f"{target.relative_to(HERE)}: {target.stat().st_size // 1024} KiB, {len(files)} files")


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__)
    options.add_argument("--only", nargs="*", default=[], help="project names (default: all)")
    options.add_argument("--pack-only", action="store_true", help="pack what was generated")
    args = options.parse_args()
    PLUGIN.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "tbtruth.py", PLUGIN / "tbtruth.py")
    for index, project in enumerate(PROJECTS):
        if args.only and project.name not in args.only:
            continue
        if not args.pack_only:
            root = prepare(project)
            write_tox_ini(project, root)
            for name, runner, run_options in runs(index):
                run_one(project, root, name, runner, run_options)
        pack(project)


if __name__ == "__main__":
    main()
