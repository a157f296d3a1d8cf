"""Per-module mutation scores from a finished ``mutmut run`` (``make mutation``; docs/TESTING.md, "Mutation testing").

Reads ``mutants/**/*.py.meta`` (mutmut 3's result files: an exit code per mutant) and prints, per mutated
module, how many mutants the tests killed (or that timed out: an endless loop is caught too) against all
mutants that were generated. Lines marked ``# pragma: no mutate`` produce no mutant and so do not count;
each such mark says in its comment why the mutant would be equivalent.

Exit status: 0 when every module reaches ``--target`` (90 % by default), 1 otherwise, 2 when there are no
results to read. ``--survivors`` lists the surviving mutants by name (``mutmut show NAME`` shows one).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

KILLED = {1, 3, 24, -24, 36, 152, 255}
"""mutmut's exit codes for a killed mutant (a test failed, pytest errored) or a timeout."""
SURVIVED = {0}
NO_TESTS = {5, 33}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=Path, default=Path("mutants"), help="mutmut's work folder")
    parser.add_argument("--target", type=float, default=90.0, help="the score each module must reach, percent")
    parser.add_argument("--survivors", action="store_true", help="list the surviving mutants")
    args = parser.parse_args(argv)

    metas = sorted(args.mutants.rglob("*.py.meta"))
    if not metas:
        print(f"mutation_scores: no results under {args.mutants}/: run `make mutation` first", file=sys.stderr)
        return 2
    failed = False
    print(f"{'module':45} {'mutants':>8} {'killed':>7} {'survived':>9} {'no tests':>9} {'other':>6} {'score':>7}")
    survivors: list[str] = []
    for meta in metas:
        codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
        if not codes:
            continue
        module = str(meta.relative_to(args.mutants))[: -len(".meta")]
        killed = sum(code in KILLED for code in codes.values())
        survived = [name for name, code in codes.items() if code in SURVIVED]
        untested = [name for name, code in codes.items() if code in NO_TESTS]
        other = len(codes) - killed - len(survived) - len(untested)
        score = 100.0 * killed / len(codes)
        failed |= score < args.target
        survivors += survived + untested
        print(f"{module:45} {len(codes):8d} {killed:7d} {len(survived):9d} {len(untested):9d} {other:6d} "
              f"{score:6.1f}%{'' if score >= args.target else '  < target'}")
    if args.survivors:
        print("\nsurvivors:")
        for name in survivors:
            print(f"  {name}")
    print(f"\ntarget: >= {args.target:g} % per module: {'not met' if failed else 'met'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
