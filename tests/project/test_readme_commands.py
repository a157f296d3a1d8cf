"""Every command the README shows is classified by its block's info string and the offline ones are run
(docs/TESTING.md, "The README's commands"):

* ``sh``: run in README order in a temporary copy of ``config/`` and ``data/``; each exits 0;
* ``sh exit=N``: each exits N with one line on stderr (the ``# error: ...`` comment after it, when given);
* ``sh server``: started with ``--port 0``, stopped with SIGINT once it serves; exits 0;
* ``sh network``: not run (the internet, a live exchange, a bot's books); each command must parse;
* ``sh make``: not run (they install); each target must be in the Makefile;
* ``sh pending``: commands being added by other work, not run;
* ``python``, ``yaml``, ``text``: not commands.

A block with any other info string, or none, fails here.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from bot_process import GUARDED_CLI, ROOT

from liquidation_hunter.cli import main
from liquidation_hunter.cli.main import _build_parser

README = ROOT / "README.md"
KINDS = {"sh", "sh network", "sh make", "sh pending", "sh server", "python", "yaml", "text"}
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>.*)$")


@dataclass(frozen=True)
class Command:
    line: int
    """Where it starts in the README (1-based)."""
    argv: tuple[str, ...]
    expected_error: str | None = None
    """The ``# error: ...`` line that follows it in an ``exit=N`` block."""


@dataclass(frozen=True)
class Block:
    line: int
    info: str
    commands: tuple[Command, ...]


def _commands(start: int, lines: list[str]) -> tuple[Command, ...]:
    """Commands of a shell block: ``\\`` continues a line, ``#`` starts a comment; a comment line
    ``# error: ...`` is the expected error of the command before it."""
    out: list[Command] = []
    pending = ""
    first = 0
    for offset, raw in enumerate(lines):
        text = raw.strip()
        if not pending and text.startswith("# error: "):
            assert out, f"README.md:{start + offset}: an expected error before any command"
            out[-1] = Command(out[-1].line, out[-1].argv, text[2:])
            continue
        if not pending:
            first = start + offset
        pending += " " + text
        if pending.endswith("\\"):
            pending = pending[:-1]
            continue
        argv = tuple(shlex.split(pending, comments=True))
        pending = ""
        if argv:
            out.append(Command(first, argv))
    return tuple(out)


def readme_blocks() -> list[Block]:
    blocks: list[Block] = []
    lines = README.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if fence is None:
            i += 1
            continue
        indent, info = fence["indent"], fence["info"].strip()
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        body = [line[len(indent):] for line in lines[i + 1:end]]
        blocks.append(Block(i + 1, info, _commands(i + 2, body) if info.startswith("sh") else ()))
        i = end + 1
    return blocks


def _exit_code(info: str) -> int | None:
    match = re.fullmatch(r"sh exit=(\d+)", info)
    return None if match is None else int(match[1])


def test_every_block_is_classified() -> None:
    blocks = readme_blocks()
    assert len(blocks) > 10
    unknown = [f"README.md:{b.line}: ```{b.info}" for b in blocks if b.info not in KINDS and _exit_code(b.info) is None]
    assert not unknown, "blocks with no known info string (docs/TESTING.md lists them):\n" + "\n".join(unknown)
    for block in blocks:
        if block.info.startswith("sh"):
            assert block.commands, f"README.md:{block.line}: an empty command block"
        if block.info in ("sh", "sh server") or _exit_code(block.info) is not None:
            for command in block.commands:  # run in-process: no pipes, no redirections, the one command
                assert command.argv[0] == "liquidation-hunter", f"README.md:{command.line}: {command.argv[0]}"
                assert not {"|", ">", "<", "&&", ";"} & set(command.argv), f"README.md:{command.line}"


def test_commands_needing_the_network_parse() -> None:
    parser = _build_parser()
    for block in readme_blocks():
        if block.info != "sh network":
            continue
        for command in block.commands:
            if command.argv[0] == "liquidation-hunter":
                parser.parse_args(list(command.argv[1:]))  # SystemExit(2) on an unknown command or flag
            else:
                assert command.argv[0] in ("make", "python"), f"README.md:{command.line}: {command.argv[0]}"
                if command.argv[0] == "python":
                    assert (ROOT / command.argv[1]).is_file(), f"README.md:{command.line}"


def test_make_targets_exist() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, re.M))
    for block in readme_blocks():
        for command in block.commands:
            if command.argv[0] == "make":
                assert block.info in ("sh make", "sh network"), f"README.md:{command.line}: make in ```{block.info}"
                assert command.argv[1] in targets, f"README.md:{command.line}: no target {command.argv[1]}"


@pytest.fixture
def working_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temporary copy of what the README's commands read, as the current directory."""
    for folder in ("config", "data", "examples"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def test_offline_commands_run(working_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ran = 0
    for block in readme_blocks():
        code = 0 if block.info == "sh" else _exit_code(block.info)
        if code is None:
            continue
        for command in block.commands:
            where = f"README.md:{command.line}: {shlex.join(command.argv)}"
            assert main(list(command.argv[1:])) == code, f"{where}\n{capsys.readouterr().err}"
            err = capsys.readouterr().err
            assert "Traceback" not in err, where
            if code:
                assert err.count("\n") == 1 and err.startswith("error: "), f"{where}\n{err}"
                if command.expected_error is not None:
                    assert err.strip() == command.expected_error, where
            ran += 1
    assert ran >= 15
    assert {p.name for p in (working_copy / "demo-output").iterdir()} >= {
        "report.md", "report.html", "report.json", "equity.png", "heatmap-ETHUSDT.png", "heatmap-BTCUSDT.png",
        "depth-SUSHIUSDT.png"}


def test_server_commands_serve(working_copy: Path) -> None:
    servers = [c for b in readme_blocks() if b.info == "sh server" for c in b.commands]
    assert servers
    for command in servers:
        argv = [sys.executable, str(GUARDED_CLI), *command.argv[1:], "--port", "0"]
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"}) as process:
            assert process.stdout is not None and process.stderr is not None
            seen = []
            for _ in range(10):  # log lines, then "serving N events ... on http://127.0.0.1:PORT ..."
                seen.append(process.stdout.readline())
                if seen[-1].startswith("serving ") or not seen[-1]:
                    break
            process.send_signal(signal.SIGINT)
            assert process.wait(30) == 0, process.stderr.read()
            assert seen[-1].startswith("serving ") and "http://127.0.0.1:" in seen[-1], seen
            assert "Traceback" not in process.stderr.read()


def test_the_demo_block_is_what_make_demo_runs() -> None:
    makefile = (ROOT / "Makefile").read_text()
    variables = dict(re.findall(r"^(DEMO_\w+)\s*:=\s*(.*)$", makefile, re.M))
    recipe = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    expected = []
    for raw in recipe:
        command = raw.strip()
        if command.startswith("$(BIN)/liquidation-hunter "):
            for name, value in variables.items():
                command = command.replace(f"$({name})", value.strip())
            expected.append(tuple(shlex.split(command.removeprefix("$(BIN)/"))))
    text = README.read_text(encoding="utf-8")
    demo_line = text[:text.index("### The demo")].count("\n") + 1
    block = next(b for b in readme_blocks() if b.line > demo_line)
    assert block.info == "sh" and [c.argv for c in block.commands] == expected
