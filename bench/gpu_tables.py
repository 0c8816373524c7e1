"""The GPU check's tables (bench/gpu_check.py): one markdown file per phase in the output folder, written whether
the phase passed or not. `python bench/gpu_tables.py env` prints the environment table (run in a fresh process, so
the check itself imports neither torch nor what the install phase has just put in place)."""

from __future__ import annotations

import json
import re
import statistics
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import yaml

VARIANT = "gru-bi-luong-general-s{seed}"  # the one grid configuration the check trains (bench/gpu_check.py overlay)
PACKAGES = ("torch", "lightning", "dvc", "mlflow-skinny", "datasets", "pydantic", "sqlalchemy", "sacrebleu",
            "huggingface-hub", "fsspec", "pyarrow")
LOG_TAIL = 400_000  # bytes of each phase's log kept in gpu_check.log


@dataclass
class Phase:
    name: str
    status: str
    seconds: float


@dataclass
class Round:
    k: int
    seeds: list[int]
    status: str
    wall_s: float


def fmt(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{x:,.{digits}f}"


def write(out: Path, name: str, lines: list[str]) -> None:
    (out / name).write_text("\n".join(lines) + "\n")


def write_phases(out: Path, phases: list[Phase], device: str, total_s: float) -> None:
    rows = [f"| {p.name} | {p.status} | {p.seconds:.1f} |" for p in phases]
    write(out, "phases.md", [f"# GPU check: phases (device {device}, {total_s:.0f} s so far)", "",
                             "| phase | status | s |", "| --- | --- | ---: |", *rows])


def write_install(out: Path, status: str, env_table: str) -> None:
    write(out, "install.md", ["# GPU check: install and environment", "", f"install: {status}", "", env_table.strip()])


def env_table() -> str:
    """Python, torch, the device and the versions of the packages the pipeline needs, as a markdown table."""
    import importlib.metadata as md
    import platform

    rows = [("python", f"{platform.python_version()} ({sys.executable})")]
    for name in PACKAGES:
        try:
            rows.append((name, md.version(name)))
        except md.PackageNotFoundError:
            rows.append((name, "not installed"))
    try:
        import torch

        cuda = torch.cuda.is_available()
        rows += [("torch CUDA", f"{torch.version.cuda} (available: {cuda})"),
                 ("device", torch.cuda.get_device_name() if cuda else "cpu"),
                 ("bf16", str(cuda and torch.cuda.is_bf16_supported()))]
    except Exception as e:  # the table is still worth having without torch
        rows.append(("torch", f"import failed: {e}"))
    return "\n".join(["| what | value |", "| --- | --- |", *[f"| {k} | {v} |" for k, v in rows]])


def write_pytest(out: Path, status: str, xml: Path, log: Path, args: list[str], collect_only: bool) -> None:
    """Counts from the JUnit file (collected tests when only collecting), the failures by name."""
    lines = [f"# GPU check: `pytest {' '.join(args)}`" + (" (collected only: no CUDA)" if collect_only else ""),
             "", f"status: {status}", ""]
    text = log.read_text(errors="replace") if log.is_file() else ""
    if collect_only:
        found = re.findall(r"(\d+)(?:/\d+)? tests? collected", text)
        lines += ["| tests collected |", "| ---: |", f"| {found[-1] if found else 0} |"]
    elif xml.is_file():
        suite = ET.parse(xml).getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        n = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
        passed = n["tests"] - n["failures"] - n["errors"] - n["skipped"]
        lines += ["| passed | failed | errors | skipped | s |", "| ---: | ---: | ---: | ---: | ---: |",
                  f"| {passed} | {n['failures']} | {n['errors']} | {n['skipped']} | {float(suite.get('time', 0)):.1f} "
                  "|"]
        bad = [f"- {c.get('classname')}::{c.get('name')}" for c in suite.iter("testcase")
               if c.find("failure") is not None or c.find("error") is not None]
        lines += ["", *bad[:30]] if bad else []
    else:
        lines += ["| passed | failed | errors | skipped | s |", "| ---: | ---: | ---: | ---: | ---: |",
                  "| 0 | 0 | 0 | 0 | 0.0 |", "", "no JUnit report: pytest did not finish (see gpu_check.log)"]
    write(out, "pytest.md", lines)


def member_files(project: Path, seed: int) -> tuple[dict | None, dict | None]:
    """train.json and eval.json of the member with `seed`, None where not written."""
    folder = project / "artifacts" / "multi30k" / VARIANT.format(seed=seed)
    return tuple(json.loads(p.read_text()) if p.is_file() else None
                 for p in (folder / "train.json", folder / "eval.json"))


def bleu(ev: dict | None, split: str, decode: str) -> float | None:
    return ev["splits"].get(split, {}).get(decode, {}).get("bleu") if ev else None


def write_member(out: Path, status: str, project: Path, seed: int, device: str) -> None:
    train, ev = member_files(project, seed)
    over = project / "profiles" / "gpucheck.yaml"
    over = yaml.safe_load(over.read_text()) if over.is_file() else {}
    size = "the full profile's size" if device == "cuda" else "tiny sizes"
    lines = [f"# GPU check: one Multi30k member, {size} (device {device})", "",
             f"status: {status}", "",
             "| member | device | precision | params | steps | train s | tgt tokens/s | peak MiB | test BLEU greedy "
             "| test BLEU beam | test_long BLEU beam |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    t = train or {}
    host = (t.get("host") or {}).get("gpu") or t.get("device", "—")
    lines.append(f"| {VARIANT.format(seed=seed)} | {host} | {t.get('precision', '—')} | "
                 f"{fmt(ev['cost']['params'] if ev else None, 0)} | {t.get('steps', '—')} | "
                 f"{fmt(t.get('train_time_s'))} | {fmt(t.get('train_tgt_tokens_per_s'), 0)} | "
                 f"{fmt(t.get('peak_mem_mb'), 0)} | {fmt(bleu(ev, 'test', 'greedy'), 2)} | "
                 f"{fmt(bleu(ev, 'test', 'beam'), 2)} | {fmt(bleu(ev, 'test_long', 'beam'), 2)} |")
    if over:
        m, tr = over.get("model", {}), over.get("train", {})
        lines += ["", f"Model: emb {m.get('emb_dim')}, hidden {m.get('hidden')}, dropout {m.get('dropout')}; batch "
                      f"{tr.get('batch_size')}, lr {tr.get('lr')}, warmup {tr.get('warmup')}, {tr.get('max_steps')} "
                      f"steps, validation once at the end (the scratch project's profiles/gpucheck.yaml)."]
    write(out, "member.md", lines)


def write_sharing(out: Path, rounds: list[Round], project: Path, device: str, steps: int) -> None:
    """Per K: each member's tokens/s (its train.json), their sum, and the slowdown of a member against K = 1."""
    per_round = {r.k: [(s, member_files(project, s)[0]) for s in r.seeds] for r in rounds}
    speeds = {k: [t["train_tgt_tokens_per_s"] for _, t in ms if t] for k, ms in per_round.items()}
    base = statistics.mean(speeds[1]) if speeds.get(1) else None
    lines = [f"# GPU check: K members sharing the device (device {device}, {steps} steps each)", "",
             "Tokens/s are each member's `train_tgt_tokens_per_s` (train.json: target tokens over the time inside "
             "training steps); total = their sum, as the members train at the same time; slowdown = a member's "
             "tokens/s at K = 1 over the mean member's at K.", "",
             "| K | status | members done | tokens/s per member (mean, min–max) | total tokens/s | slowdown per "
             "member | total vs K = 1 | peak MiB per member (max) | round wall s |",
             "| ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in rounds:
        v = speeds[r.k]
        peak = max((t["peak_mem_mb"] for _, t in per_round[r.k] if t), default=None)
        mean = statistics.mean(v) if v else None
        lines.append(f"| {r.k} | {r.status} | {len(v)} of {r.k} | "
                     + (f"{mean:,.0f} ({min(v):,.0f}–{max(v):,.0f})" if v else "—")
                     + f" | {fmt(sum(v) if v else None, 0)} | {fmt(base / mean if base and mean else None, 2)}× | "
                     f"{fmt(sum(v) / base if base and v else None, 2)}× | {fmt(peak, 0)} | {r.wall_s:.1f} |")
    lines += ["", "| K | member | tokens/s | peak MiB | train s |", "| ---: | --- | ---: | ---: | ---: |"]
    for r in rounds:
        for seed, t in per_round[r.k]:
            if t:
                lines.append(f"| {r.k} | {VARIANT.format(seed=seed)} | {t['train_tgt_tokens_per_s']:,.0f} | "
                             f"{t['peak_mem_mb']:,.0f} | {t['train_time_s']:.1f} |")
    write(out, "sharing.md", lines)


def write_log(out: Path, logs: list[Path]) -> None:
    """Every phase's log (the end of each when long) in one file: what comes back from the device is few files."""
    parts = []
    for log in logs:
        data = log.read_bytes()
        cut = f"[... {len(data) - LOG_TAIL} bytes cut ...]\n" if len(data) > LOG_TAIL else ""
        parts.append(f"===== {log.name}\n{cut}{data[-LOG_TAIL:].decode(errors='replace')}")
    (out / "gpu_check.log").write_text("\n".join(parts))


if __name__ == "__main__" and sys.argv[1:] == ["env"]:
    print(env_table())
