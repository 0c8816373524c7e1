"""Docs that cannot rot: the shell commands in README.md and docs/*.md still run, and their relative links resolve.

Which lines are commands:
- Only fenced blocks tagged ```bash, ```sh or ```console are read. Blocks tagged otherwise (```text, ```yaml,
  ```python) or not tagged are never run: use them for example output and for files to edit.
- In ```bash and ```sh blocks every line is a command, except blank lines and comment lines (`# …`). A line that
  ends in a backslash continues on the next one.
- In ```console blocks only the lines that start with `$ ` are commands; the other lines are example output, which
  is not compared.

Which commands are not run (each is still one pytest param, skipped with its reason, so `-ra` shows the count):
- A command whose trailing comment starts with `long`, `network` or `gpu`, as in `make repro   # long: the quick
  profile`: it takes minutes, needs the network or needs a GPU. The mark is in the doc itself.
- Setup: a command that starts with `git clone` or `cd`. The scratch project below is already the project folder.

How a command runs: `bash -o pipefail -c '<command>'` in its own scratch copy of the tiny finished project that the
suite builds (`tiny_grid` in tests/conftest.py, shared with the pipeline tests: nothing is trained here), with a copy
of `bench/` in it. The venv's bin folder is first on PATH (so `attnbench`, `dvc` and `python` are the venv's),
`.venv/bin/` in a command is rewritten to that folder, MLFLOW_TRACKING_URI is unset (the scratch project's own
store), and each command has `LIMIT_S` seconds. A non-zero exit, or running past the limit, fails that param. Its
id is `<file>:<line>`, and the message names the file, the line, the command and the end of its output.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import BIN, ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINKED = [*DOCS, ROOT / "CHANGELOG.md"]  # files whose relative links must resolve
LANGS = {"bash", "sh", "console"}
MARKS = ("long", "network", "gpu")
LIMIT_S = 60
README_MAX_LINES = 150  # non-blank lines: the README is the front door, the depth is in docs/

FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)")
VENV_BIN = re.compile(r"(?<![\w./-])\.venv/bin/")


@dataclass(frozen=True)
class Command:
    """One documented command: where it is (`file:line` of its first line) and its text, trailing comment kept."""

    where: str
    text: str

    @property
    def code(self) -> str:
        return split_comment(self.text)[0]


def extract(doc: Path, base: Path = ROOT) -> list[Command]:
    """The commands of `doc`'s ```bash / ```sh / ```console blocks (the rule in the module docstring)."""
    name = doc.relative_to(base).as_posix() if doc.is_relative_to(base) else doc.name
    commands: list[Command] = []
    fence = lang = None
    pending: tuple[int, str] | None = None  # a command continued by a trailing backslash: (first line, text so far)
    for n, raw in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if fence is None:
            if m := FENCE.match(raw):
                fence, lang = m.group(1), m.group(2).lower()
            continue
        if line and set(line) == {fence[0]} and len(line) >= len(fence):
            fence = lang = pending = None
            continue
        if lang not in LANGS:
            continue
        if pending is None:
            if lang == "console":
                if not raw.lstrip().startswith("$ "):
                    continue
                line = raw.lstrip()[2:].strip()
            elif not line or line.startswith("#"):
                continue
            start, text = n, line
        else:
            start, text = pending[0], f"{pending[1]} {line}"
        if text.endswith("\\"):
            pending = (start, text[:-1].rstrip())
            continue
        pending = None
        commands.append(Command(f"{name}:{start}", text))
    return commands


def split_comment(text: str) -> tuple[str, str]:
    """(the command, its trailing comment): a `#` outside quotes that starts a word starts the comment."""
    quote = None
    for i, c in enumerate(text):
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i].rstrip(), text[i + 1:].strip()
    return text, ""


def skip_reason(command: Command) -> str | None:
    """Why the test does not run `command` (a mark in its trailing comment, or setup), or None: it runs."""
    comment = split_comment(command.text)[1]
    mark = comment.split()[0].rstrip(":,.;").lower() if comment else ""
    if mark in MARKS:
        return f"marked {mark}: {command.code}"
    words = command.code.split()
    if words[:1] == ["cd"] or words[:2] == ["git", "clone"]:
        return f"setup: {command.code}"
    return None


def verify(command: Command, cwd: Path, limit_s: float = LIMIT_S) -> subprocess.CompletedProcess:
    """Run `command` in `cwd` as the module docstring says; AssertionError naming `file:line` unless it exits 0."""
    code = VENV_BIN.sub(f"{BIN}/", command.code)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.Popen(["bash", "-o", "pipefail", "-c", code], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=limit_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the command's whole process group: bash and what it started
        out, _ = proc.communicate()
        raise AssertionError(f"{command.where}: `{command.code}` ran past {limit_s:g} s; make it cheaper or mark it "
                             f"`# long` in the doc\n{out[-3000:]}") from None
    if proc.returncode:
        raise AssertionError(f"{command.where}: `{command.code}` exited {proc.returncode}; fix the doc or the code "
                             f"(or mark the command `# long`, `# network` or `# gpu`)\n{out[-3000:]}")
    return subprocess.CompletedProcess(code, proc.returncode, out)


def params(docs: list[Path], base: Path = ROOT) -> list:
    """One pytest param per documented command, its id `file:line`."""
    return [pytest.param(c, id=c.where) for doc in docs for c in extract(doc, base)]


COMMANDS = params(DOCS)


@pytest.fixture(scope="module")
def finished(tiny_grid) -> Path:
    return tiny_grid[0]


@pytest.fixture
def scratch(finished, tmp_path) -> Path:
    """A private copy of the finished tiny project (git, DVC cache, outputs) for one command to change, with the
    benchmarks' scripts and tables (`bench/`), so that a doc can tabulate a committed measurement."""
    project = tmp_path / "project"
    shutil.copytree(finished, project, symlinks=True)
    shutil.copytree(ROOT / "bench", project / "bench", ignore=shutil.ignore_patterns("__pycache__"))
    return project


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
def test_documented_command_runs(command: Command, request):
    if reason := skip_reason(command):
        pytest.skip(f"{command.where}: {reason}")
    verify(command, request.getfixturevalue("scratch"))  # the tiny project is built only when a command runs


def test_the_docs_have_commands_to_run():
    """The extractor still finds the README's commands and runs some of them (a broken fence would hide them all)."""
    commands = [p.values[0] for p in COMMANDS]
    readme = [c for c in commands if c.where.startswith("README.md:")]
    assert readme and any(skip_reason(c) is None for c in readme), readme
    assert any(skip_reason(c) is None and c.code.startswith("attnbench check") for c in commands)


# ------------------------------------------------------------------ the extractor and runner on a broken doc

BROKEN = """\
# A doc with a broken command

```bash
attnbench --help
attnbench frobnicate --jobs 2   # a typo: there is no such subcommand
make repro   # long: the whole quick profile
cd somewhere
echo one \\
  two
```

```console
$ echo shown
shown
$ false
```

```text
$ not a command
```

```python
raise SystemExit(1)
```
"""


def test_a_broken_command_fails_naming_its_file_and_line(tmp_path):
    doc = tmp_path / "docs" / "broken.md"
    doc.parent.mkdir()
    doc.write_text(BROKEN)
    commands = extract(doc, tmp_path)
    assert [(c.where, c.code) for c in commands] == [
        ("docs/broken.md:4", "attnbench --help"),
        ("docs/broken.md:5", "attnbench frobnicate --jobs 2"),
        ("docs/broken.md:6", "make repro"),
        ("docs/broken.md:7", "cd somewhere"),
        ("docs/broken.md:8", "echo one two"),
        ("docs/broken.md:13", "echo shown"),
        ("docs/broken.md:15", "false"),
    ]
    assert [p.id for p in params([doc], tmp_path)] == [c.where for c in commands]
    reasons = [skip_reason(c) for c in commands]
    assert reasons[2] == "marked long: make repro" and reasons[3] == "setup: cd somewhere"
    assert [c.where for c, r in zip(commands, reasons, strict=True) if r is None] == [
        "docs/broken.md:4", "docs/broken.md:5", "docs/broken.md:8", "docs/broken.md:13", "docs/broken.md:15"]

    assert verify(commands[0], tmp_path).stdout.startswith("usage: attnbench")  # the venv's attnbench, on PATH
    assert verify(commands[4], tmp_path).stdout == "one two\n"
    with pytest.raises(AssertionError, match=r"^docs/broken\.md:5: `attnbench frobnicate --jobs 2` exited 2") as e:
        verify(commands[1], tmp_path)
    assert "unknown command 'frobnicate'" in str(e.value)  # the command's own output comes with the failure
    with pytest.raises(AssertionError, match=r"^docs/broken\.md:15: `false` exited 1"):
        verify(commands[6], tmp_path)


def test_a_command_past_the_limit_is_stopped_and_named(tmp_path):
    with pytest.raises(AssertionError, match=r"^slow\.md:3: `sleep 30 \| cat` ran past 1 s; .*# long"):
        verify(Command("slow.md:3", "sleep 30 | cat"), tmp_path, limit_s=1)


@pytest.mark.parametrize(("text", "code", "comment"), [
    ("dvc status", "dvc status", ""),
    ("make repro   # long: 36 min", "make repro", "long: 36 min"),
    ("echo '# not a comment' x  # network", "echo '# not a comment' x", "network"),
    ("echo a#b", "echo a#b", ""),
])
def test_split_comment(text, code, comment):
    assert split_comment(text) == (code, comment)


# ------------------------------------------------------------------ links

LINK = re.compile(r"!?\[(?:[^\]]|\n)*?\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")


def prose(text: str, inline_code: bool = False) -> str:
    """`text` with fenced code blocks blanked (lines kept, so offsets give line numbers) and, unless `inline_code`,
    inline code removed."""
    out, fence = [], None
    for raw in text.splitlines():
        line = raw.strip()
        if fence is None and (m := FENCE.match(raw)):
            fence, raw = m.group(1), ""
        elif fence is not None:
            if line and set(line) == {fence[0]} and len(line) >= len(fence):
                fence = None
            raw = ""
        out.append(raw if inline_code else re.sub(r"`[^`\n]*`", "", raw))
    return "\n".join(out)


def slug(title: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (not `-` or `_`), spaces to hyphens."""
    title = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", title)
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def anchors(doc: Path) -> set[str]:
    """The anchors of `doc`'s headings; a repeated heading gets `-1`, `-2`, … as on GitHub."""
    found, counts = set(), {}
    for line in prose(doc.read_text(encoding="utf-8"), inline_code=True).splitlines():
        if m := HEADING.match(line):
            base = slug(m.group(1))
            n = counts.get(base, 0)
            counts[base] = n + 1
            found.add(f"{base}-{n}" if n else base)
    return found


def broken_links(doc: Path, base: Path = ROOT) -> list[str]:
    """`file:line: target` for every relative link (and image) of `doc` whose file, or heading anchor in a
    Markdown file, does not exist."""
    text = prose(doc.read_text(encoding="utf-8"))
    name = doc.relative_to(base).as_posix() if doc.is_relative_to(base) else doc.name
    bad = []
    for m in LINK.finditer(text):
        target = m.group(1)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto:, …
            continue
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        line = text.count("\n", 0, m.start()) + 1
        if not file.exists():
            bad.append(f"{name}:{line}: {target} (no such file)")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            bad.append(f"{name}:{line}: {target} (no heading with that anchor in {file.name})")
    return bad


@pytest.mark.parametrize("doc", [d for d in LINKED if d.exists()], ids=lambda d: d.relative_to(ROOT).as_posix())
def test_relative_links_point_to_existing_files(doc):
    assert not broken_links(doc), "\n".join(broken_links(doc))


def test_a_broken_link_is_named_with_its_line(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "there.md").write_text("# A page\n\n## Its `second` section: here\n")
    doc = tmp_path / "README.md"
    doc.write_text("# Top\n\n[ok](docs/there.md#its-second-section-here), [web](https://example.org)\n"
                   "![figure](docs/missing.png) and [bad anchor](docs/there.md#nowhere)\n"
                   "```bash\ncat [not](a-link.md)\n```\n[split\ntext](#top) `[code](nothing.md)`\n")
    assert broken_links(doc, tmp_path) == ["README.md:4: docs/missing.png (no such file)",
                                           "README.md:4: docs/there.md#nowhere (no heading with that anchor in "
                                           "there.md)"]


def test_readme_stays_a_front_door():
    lines = [line for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} non-blank lines; move depth to docs/"
