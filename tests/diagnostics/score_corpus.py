"""Print the parser's figures on the corpus: per failure family and per `--tb` style.

Run: `python tests/diagnostics/score_corpus.py [--set dev|held-out|fixture|all] [--misses]`.
`dev` is the independent projects the parser was fixed on, `held-out` the three it was not
(see `corpus_projects.HELD_OUT`), `fixture` the old one-project corpus. `--misses` lists
every missed truth and spurious diagnostic (do not use it on the held-out set while fixing).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from tests.diagnostics.corpus import (
    Run,
    Score,
    fixture_run,
    log_names,
    project_names,
    project_runs,
    table,
)
from tests.diagnostics.corpus_projects import HELD_OUT

# logs the fixture corpus checks by other means (see test_diagnostics_corpus.py)
UNSCORED_FIXTURE = ("tox-parallel-live", "p9-root-conftest")


def runs_of(which: str) -> list[Run]:
    out: list[Run] = []
    if which in ("fixture", "all"):
        out += [fixture_run(name) for name in log_names() if name not in UNSCORED_FIXTURE]
    for project in project_names():
        held = project in HELD_OUT
        if which == "all" or (which == "held-out" and held) or (which == "dev" and not held):
            out += project_runs(project)
    return out


def row(label: str, score: Score) -> str:
    return (
        f"| {label} | {score.truths} | {score.recall:.3f} | {score.precision:.3f} "
        f"| {score.message_quality:.3f} | {len(score.spurious)} |"
    )


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__)
    options.add_argument("--set", default="dev", choices=["dev", "held-out", "fixture", "all"])
    options.add_argument("--misses", action="store_true")
    options.add_argument("--json", type=Path, help="also write the figures to this file")
    args = options.parse_args()
    runs = runs_of(args.set)
    result = table(runs)
    total = result.total
    print(f"{args.set}: {len(runs)} runs, {total.truths} failures, {total.parsed} diagnostics")
    print(f"invented (a test that did not fail, or none): {len(total.invented)}")
    print("| family | failures | recall | precision | message | spurious |")
    print("|---|---|---|---|---|---|")
    for family in sorted(result.families):
        print(row(family, result.families[family]))
    print(row("**all**", total))
    print()
    print("| --tb | failures | recall | precision | message | spurious |")
    print("|---|---|---|---|---|---|")
    for style in ("auto", "long", "short", "line", "native", "no"):
        if style in result.styles:
            print(row(style, result.styles[style]))
    if args.json:
        figures = {
            name: [score.truths, score.recall, score.precision, score.message_quality]
            for name, score in [
                ("all", total),
                *(("family " + k, v) for k, v in result.families.items()),
                *(("tb " + k, v) for k, v in result.styles.items()),
            ]
        }
        figures["invented"] = [len(total.invented), 0, 0, 0]
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    if args.misses:
        for name, truth in total.missed:
            print("MISSED", name, truth.test, truth.path, truth.line, truth.families)
        for name, diagnostic in total.spurious:
            print(
                "SPURIOUS",
                name,
                diagnostic.test,
                diagnostic.path,
                diagnostic.line,
                diagnostic.message[:80].replace("\n", " | "),
            )


if __name__ == "__main__":
    main()
