"""Where a grid member's wall time goes: start-up, imports, DVC, MLflow, data, training steps, validation,
decoding, scoring, latency, FLOPs. Not a test.

It copies the working tree into a scratch project (the venv linked, never rebuilt), prepares the data once (not
timed), then runs N members with K at a time exactly as `make repro` does (`pipeline.parallel.Preloaded`: each
stage forked from one preloaded Python, then one `dvc commit` per member), with `ATTNBENCH_PHASES` set so every
stage process appends its phase clocks (pipeline/core/phases.py). Prints one table per K (mean seconds per member
and the share of its wall time) and writes it to bench/results/members-<grid>.md and .json.

    python bench/bench_members.py --grid quick --members 6 --jobs 2          # the quick profile
    python bench/bench_members.py --grid 288 --members 12 --jobs 1 2 4        # the full profile's grid size
    python bench/bench_members.py --phases /path/phases.jsonl                  # tabulate a run made elsewhere

`--grid 288` is the full profile's size (2 × 48 configurations × 3 seeds, here 96 configurations × 3 seeds on the
offline `numbers` corpus, luong and bahdanau decoders) with the full profile's model (emb 256, hidden 512, batch 64)
and `--steps` steps: 582 DVC stages, of which `--members` members run. One member runs first (not counted) and its
dvc.lock entries are cloned for all the others, so DVC rewrites a lock file of a finished grid's size after every
stage. It also times `dvc status` on that pipeline.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# (row, how it is computed from a member's two stage processes and its job)
ROWS = [
    ("DVC and the runner (fork, dvc commit: hashing, cache, dvc.lock)", "dvc"),
    ("interpreter start", "start"),
    ("imports (torch, Lightning, MLflow, …)", "imports"),
    ("config, context, threads", "setup"),
    ("MLflow (store, run, params, inputs, artifacts)", "mlflow"),
    ("data and model", "data_model"),
    ("training steps", "steps"),
    ("validation (greedy BLEU)", "validation"),
    ("fit other (batching, checkpoints, loop)", "fit_other"),
    ("decoding greedy", "decode_greedy"),
    ("decoding beam", "decode_beam"),
    ("scoring (sacrebleu, buckets)", "quality"),
    ("latency (batch 1)", "latency"),
    ("alignment (AER)", "alignment"),
    ("attention maps", "attention_maps"),
    ("FLOPs", "flops"),
    ("host calibration (fixed step, before and after the fit)", "calibration"),
    ("other (writes, run end, exit)", "other"),
]
TOP = ("imports", "setup", "mlflow", "data_model", "fit", "decode_greedy", "decode_beam", "quality", "latency",
       "alignment", "attention_maps", "flops", "calibration")


def cpu_name() -> str:
    from pipeline.core.host import host

    h = host()
    return f"{h.cpu} ({h.isa or 'no AVX2'}), {os.cpu_count()} cores, torch {h.torch}"


def per_member(lines: list[dict]) -> dict[str, dict[str, float]]:
    """Each member's seconds per row, from its `job` line and its train/evaluate process lines."""
    by_run: dict[str, dict] = {}
    for line in lines:
        by_run.setdefault(line["run"], {})[line["stage"]] = line
    out = {}
    for run, parts in by_run.items():
        if not {"job", "train", "evaluate"} <= parts.keys():
            continue
        row = dict.fromkeys([key for _, key in ROWS], 0.0)
        for stage in ("train", "evaluate"):
            p, total = parts[stage]["phases"], parts[stage]["process_s"]
            row["start"] += parts[stage].get("started_s", 0.0)
            for key in TOP:
                if key != "fit":
                    row[key] += p.get(key, 0.0)
            row["steps"] += p.get("steps", 0.0)
            row["validation"] += p.get("validation", 0.0)
            row["fit_other"] += p.get("fit", 0.0) - p.get("steps", 0.0) - p.get("validation", 0.0)
            row["other"] += total - parts[stage].get("started_s", 0.0) - sum(p.get(k, 0.0) for k in TOP)
        row["dvc"] = parts["job"]["wall_s"] - parts["train"]["process_s"] - parts["evaluate"]["process_s"]
        row["wall"] = parts["job"]["wall_s"]
        out[run] = row
    return out


def table(members: dict[str, dict[str, float]], title: str) -> str:
    walls = [m["wall"] for m in members.values()]
    mean_wall = statistics.mean(walls)
    lines = [f"**{title}**: {len(members)} members, wall per member {mean_wall:.1f} s "
             f"(min {min(walls):.1f}, max {max(walls):.1f})", "",
             "| phase | s per member (mean) | share of member wall |", "|---|---:|---:|"]
    for label, key in ROWS:
        s = statistics.mean(m[key] for m in members.values())
        lines.append(f"| {label} | {s:.2f} | {100 * s / mean_wall:.1f}% |")
    steps = statistics.mean(m["steps"] for m in members.values())
    lines.append(f"| **fixed (everything but training steps)** | **{mean_wall - steps:.2f}** | "
                 f"**{100 * (mean_wall - steps) / mean_wall:.1f}%** |")
    return "\n".join(lines)


def scratch_project(dest: Path, grid: str, steps: int) -> Path:
    """The working tree (tracked and untracked, not ignored) copied to `dest`, the venv linked, params set."""
    if dest.exists():
        shutil.rmtree(dest)
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    (dest / ".venv").symlink_to(ROOT / ".venv")
    shared = ROOT.parent / "shared"
    if shared.exists() and not (dest.parent / "shared").exists():
        (dest.parent / "shared").symlink_to(shared)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)
    subprocess.run(["git", "-c", "user.email=b@b", "-c", "user.name=bench", "commit", "-qm", "bench"], cwd=dest,
                   check=True)
    if grid == "288":
        set_params(dest / "params.yaml", {("model", "emb_dim"): 256, ("model", "hidden"): 512,
                                          ("model", "dropout"): 0.2, ("train", "batch_size"): 64,
                                          ("train", "lr"): 1e-3, ("train", "warmup"): min(500, steps // 2),
                                          ("grid", "decoders"): ["luong", "bahdanau"],
                                          ("grid", "design"): "factorial"})
    if steps:
        set_params(dest / "params.yaml", {("train", "max_steps"): steps, ("train", "val_every"): steps})
    py = str(ROOT / ".venv" / "bin" / "python")
    subprocess.run([py, "-m", "pipeline.grid"], cwd=dest, check=True, stdout=subprocess.DEVNULL)
    return dest


def set_params(path: Path, values: dict[tuple[str, str], object]) -> None:
    """Set keys of params.yaml, comments and layout kept (ruamel round-trip, which DVC itself uses)."""
    from ruamel.yaml import YAML

    yaml = YAML()
    data = yaml.load(path)
    for (section, key), value in values.items():
        data[section][key] = value
    yaml.dump(data, path)


def run_members(project: Path, keys: list[str], jobs: int, phases_file: Path) -> float:
    """The members' jobs, `jobs` at a time, as pipeline.parallel runs them; the wall time of them all."""
    from pipeline.parallel import Preloaded  # imported before ATTNBENCH_PHASES is set: the job lines are written here

    def job(key: str) -> None:
        t = time.perf_counter()
        preloaded.job([f"train@{key}", f"evaluate@{key}"], 1)
        with phases_file.open("a") as f:
            f.write(json.dumps({"stage": "job", "run": key, "wall_s": round(time.perf_counter() - t, 3)}) + "\n")

    env_before = dict(os.environ)
    os.environ["ATTNBENCH_PHASES"] = str(phases_file)
    os.chdir(project)
    preloaded = Preloaded(1)
    preloaded.start()  # after ATTNBENCH_PHASES is set: the stage processes inherit it
    t0 = time.perf_counter()
    try:
        with ThreadPoolExecutor(jobs) as pool:
            list(pool.map(job, keys))
    finally:
        os.environ.clear()
        os.environ.update(env_before)
        # the forkserver outlives this call and its children inherit its environment: the next call (the warm-up's
        # members, then each K's) needs one started with its own ATTNBENCH_PHASES. `_stop` is the stdlib's own
        # (its tests use it); without it the next run's lines would go to this run's file.
        from multiprocessing import forkserver

        forkserver._forkserver._stop()  # noqa: SLF001
    return time.perf_counter() - t0


def fill_lock(project: Path, keys: list[str], done: str) -> None:
    """Give dvc.lock an entry for every member, cloned from the finished member `done` (paths renamed; the hashes
    are then wrong, so those stages still count as changed): DVC rewrites the whole dvc.lock after every stage, and
    a finished grid of 288 members has 576 entries in it, not the few that a partial run leaves."""
    from ruamel.yaml import YAML

    yaml = YAML()
    lock = yaml.load(project / "dvc.lock")
    variant = done.split("-", 1)[1]
    for stage in ("train", "evaluate"):
        template = yaml_dump(lock["stages"][f"{stage}@{done}"])
        for key in keys:
            name = f"{stage}@{key}"
            if name not in lock["stages"]:
                text = template.replace(done, key).replace(variant, key.split("-", 1)[1])
                lock["stages"][name] = YAML(typ="safe").load(text)
    yaml.dump(lock, project / "dvc.lock")


def yaml_dump(node) -> str:
    import io

    from ruamel.yaml import YAML

    buf = io.StringIO()
    YAML().dump(node, buf)
    return buf.getvalue()


def timed_cmd(project: Path, *cmd: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=project, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def recorded_calibration(lines: list[dict], artifacts: Path | None) -> str:
    """The calibration line of a past run: the fixed step each member timed before and after its fit (train.json
    `calibration_ms`), from the first member to start and the last to finish. A phases file holds no such time."""
    if artifacts is None:
        return "calibration: not in a phases file; pass --artifacts <the run's artifacts/> for its members' own"
    keys = [x["run"] for x in lines if x["stage"] == "train"]
    by_key = {f"{p.parent.parent.name}-{p.parent.name}": p for p in artifacts.glob("*/*/train.json")}
    found = [json.loads(by_key[k].read_text()).get("calibration_ms") for k in (keys[0], keys[-1]) if k in by_key]
    if len(found) < 2 or None in found:
        return f"calibration: no train.json calibration_ms under {artifacts} for {keys[0]} and {keys[-1]}"
    return (f"calibration (train.json calibration_ms: one fixed training step, the member's threads): "
            f"{found[0][0]:.2f} ms before the first member's fit ({keys[0]}), {found[1][1]:.2f} ms after the last "
            f"member's ({keys[-1]})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid", choices=["quick", "288"], default="quick")
    p.add_argument("--members", type=int, default=6, help="members run per K (the first N of `runs:`)")
    p.add_argument("--jobs", type=int, nargs="+", default=[2], help="K values: members at once")
    p.add_argument("--steps", type=int, default=0, help="train.max_steps (0: the profile's)")
    p.add_argument("--scratch", type=Path, default=Path("/tmp/attnbench-bench"))
    p.add_argument("--phases", type=Path, help="only tabulate this phases file (ATTNBENCH_PHASES of a run)")
    p.add_argument("--artifacts", type=Path, help="with --phases: the run's artifacts/, for its calibration line")
    p.add_argument("--label", default="", help="a note for the table title (e.g. the commit)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = p.parse_args()
    os.environ["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"  # the stages' `python`
    if args.phases:
        lines = [json.loads(x) for x in args.phases.read_text().splitlines() if x.strip()]
        print(table(per_member(lines), f"{args.label or args.phases.name}; {cpu_name()}"))
        runner = [x for x in lines if x.get("stage") == "runner"]  # pipeline.parallel's own steps, when recorded
        if runner:
            print("\nrunner: " + ", ".join(f"{x['run']} {x['wall_s']:.1f} s" for x in runner)
                  + " (data: `dvc repro tokenize`; finish: the closing `dvc repro`, with the report)")
        print(f"\n{recorded_calibration(lines, args.artifacts)}")
        return
    from pipeline.core.calibration import calibration_line, calibration_ms

    dvc = str(ROOT / ".venv" / "bin" / "dvc")
    results, sections, start = {}, [], calibration_ms()
    for jobs in args.jobs:
        project = scratch_project(args.scratch / "main", args.grid, args.steps)
        subprocess.run([dvc, "repro", "-q", "tokenize"], cwd=project, check=True)
        from pipeline.core.params import load_params
        from pipeline.core.runs import runs_from_params

        runs = runs_from_params(load_params(project / "params.yaml"))
        all_keys = [r.key for r in runs]
        run_members(project, all_keys[:1], 1, args.scratch / "warm-up.jsonl")  # not counted: fills the lock
        fill_lock(project, all_keys, all_keys[0])
        status_s = timed_cmd(project, dvc, "status")
        keys = all_keys[1: args.members + 1]
        phases_file = args.scratch / f"phases-{args.grid}-k{jobs}.jsonl"
        phases_file.unlink(missing_ok=True)
        wall = run_members(project, keys, jobs, phases_file)
        lines = [json.loads(x) for x in phases_file.read_text().splitlines()]
        members = per_member(lines)
        title = (f"{args.grid} grid ({len(runs)} members, {len(runs) * 2} member stages), {len(keys)} members run "
                 f"{jobs} at a time in {wall:.0f} s ({wall / len(keys):.1f} s per member of throughput); "
                 f"`dvc status` {status_s:.1f} s")
        sections.append(table(members, title))
        results[f"k{jobs}"] = {"members": members, "wall_s": wall, "dvc_status_s": status_s, "grid_size": len(runs)}
        print(sections[-1], flush=True)
    head = (f"# Member wall-time breakdown: {args.grid} grid\n\n{cpu_name()}; "
            f"{time.strftime('%Y-%m-%d %H:%M')}; {args.label}\n\n"
            f"Command: `python bench/bench_members.py --grid {args.grid} --members {args.members} "
            f"--jobs {' '.join(map(str, args.jobs))}{f' --steps {args.steps}' if args.steps else ''}`\n")
    sections.append(calibration_line(start, calibration_ms()))
    print(sections[-1])
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"members-{args.grid}"
    (args.out / f"{stem}.md").write_text(head + "\n" + "\n\n".join(sections) + "\n")
    (args.out / f"{stem}.json").write_text(json.dumps({"cpu": cpu_name(), "label": args.label, **results}, indent=1))


if __name__ == "__main__":
    main()
