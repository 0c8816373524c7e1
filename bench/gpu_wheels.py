"""Prepare what a GPU machine without a package index needs for `bench/gpu_check.sh`: wheels and the Multi30k files.

Run here (PyPI reachable), with the project's venv:

    .venv/bin/python bench/gpu_wheels.py            # writes .whl/ (git-ignored), prints its size, fails over 64 MiB

It walks the project's dependencies (pyproject.toml) through the installed distributions' metadata, as they resolve
on the GPU image's Python (3.12, manylinux x86-64), and stops at packages the image already holds (`IMAGE`, from
/work/.library/device/KINDS.md). Every other package is downloaded at the version installed here, so the GPU run uses
the same code. mlflow travels as `mlflow-skinny` (the same `mlflow` package without the UI and server) plus the
SQLite store's sqlalchemy and alembic. Image packages that a carried one constrains travel too when they are small
pure-python wheels (`SPARE`): pip on the GPU keeps the image's version when it satisfies, and takes the spare only
when it does not. `.whl/requirements.txt` is what `bench/gpu_check.sh` installs there with `--no-index`.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
LIMIT_MIB = 64  # what travels to the device machine beside the working tree
CORPUS = ROOT.parent / "shared" / "corpora" / "multi30k"
TARGET = {"python_version": "3.12", "python_full_version": "3.12.3", "implementation_name": "cpython",
          "platform_python_implementation": "CPython", "sys_platform": "linux", "platform_system": "Linux",
          "platform_machine": "x86_64", "os_name": "posix"}
PLATFORMS = ["manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_24_x86_64", "manylinux_2_27_x86_64",
             "manylinux_2_28_x86_64", "manylinux_2_31_x86_64", "manylinux_2_34_x86_64", "manylinux_2_35_x86_64",
             "manylinux1_x86_64"]  # pip matches each N exactly; the image (Ubuntu 24.04, glibc 2.39) runs them all
SUBSTITUTE = {"mlflow": ["mlflow-skinny", "sqlalchemy", "alembic"]}  # the client and its SQLite store, no UI/server
# The GPU image's packages (KINDS.md, "Python packages already there", read 2026-11-17): never walked into.
IMAGE = """
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build certifi
charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core cuda-pathfinder
cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock flatbuffers flax fonttools
formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx huggingface-hub humanize hypothesis idna
imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin jaxlib jaxtyping jinja2 joblib kiwisolver
lazy-loader lightning lightning-utilities linear-operator lineax llvmlite lxml markdown markdown-it-py markupsafe
matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack multidict multipledispatch mypy-extensions nanobind narwhals
networkx ninja numba numba-cuda numpy numpyro nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc nvidia-cuda-runtime
nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13
nvidia-ml-py nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir onnxruntime onnxscript
opencv-python-headless optax opt-einsum opt-einsum-fx optimistix orbax-checkpoint packaging pandas pathspec patsy peft
pillow pip pluggy portalocker prometheus-client propcache protobuf psutil pyarrow pybind11 py-cpuinfo pygments
pyparsing pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock pytest-timeout pytest-xdist
python-dateutil pytorch-lightning pyyaml regex requests rich sacrebleu safetensors scikit-build-core scikit-image
scikit-learn scipy seaborn sentencepiece sentence-transformers setuptools shellingham simplejson six sortedcontainers
statsmodels sympy tabulate tensorboard tensorboard-data-server tensorstore threadpoolctl tifffile tiktoken timm
tokenizers toolz torch torchaudio torchdiffeq torch-geometric torchmetrics torchvision tqdm transformers treescope
triton typer typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel wrapt xarray xxhash yarl
zipp
"""  # names, whitespace-separated
# Image packages not worth a spare: large, or what the project is built on (a mismatch there is a finding, not a fix).
NO_SPARE = {"numpy", "pandas", "pyarrow", "scipy", "matplotlib", "torch", "lightning", "pytorch-lightning",
            "sacrebleu", "sentencepiece", "networkx", "setuptools", "aiohttp", "pyyaml", "psutil", "protobuf",
            "markupsafe", "xxhash"}


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def applies(req: Requirement, extras: set[str]) -> bool:
    """Whether `req` is needed on the GPU image's Python, given the extras asked of its parent."""
    return req.marker is None or any(req.marker.evaluate({**TARGET, "extra": e}) for e in {"", *extras})


def closure() -> tuple[dict[str, str], dict[str, str], list[str]]:
    """(carried: name -> version here, spares: name -> version here, the requirement lines for the GPU install)."""
    installed = {norm(d.metadata["Name"]): d for d in md.distributions()}
    image = {norm(n) for n in IMAGE.split()}
    carried, constrained, lines = {}, set(), []

    def walk(req: Requirement, parent: str) -> None:
        name = norm(req.name)
        if name in image:
            if parent and str(req.specifier):
                constrained.add(name)
            return
        if name in carried:
            return
        if name not in installed:
            raise SystemExit(f"{name} (needed by {parent or 'pyproject.toml'}) is not installed in this venv")
        dist = installed[name]
        carried[name] = dist.version
        for line in dist.requires or []:
            sub = Requirement(line)
            if applies(sub, set(req.extras)):
                walk(sub, name)

    for line in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        req = Requirement(line)
        for name in SUBSTITUTE.get(norm(req.name), [req.name]):
            sub = Requirement(name if name != req.name else line)
            walk(sub, "")
            n = norm(sub.name)
            lines.append(f"{n}=={carried[n]}" if n in carried else str(req))
    spares = {n: installed[n].version for n in sorted(constrained - NO_SPARE) if n in installed}
    return carried, spares, lines


def download(pins: list[str], dest: Path) -> None:
    """Binary wheels for the GPU's Python; a package published only as an sdist is built into a wheel here."""
    base = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version",
            "3.12", "--implementation", "cp", *[f"--platform={p}" for p in PLATFORMS], "-d", str(dest)]
    if subprocess.run([*base, *pins]).returncode == 0:
        return
    for pin in pins:  # one by one, to find the ones without a wheel
        if subprocess.run([*base, pin], capture_output=True).returncode:
            print(f"{pin}: no wheel on the index; building one", flush=True)
            subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dest), pin], check=True)


def wheel_name(path: Path) -> str:
    """The distribution a wheel file holds (its METADATA's Name)."""
    with zipfile.ZipFile(path) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        return norm(re.search(r"^Name: (.+)$", z.read(meta).decode(), re.M).group(1).strip())


def mib(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def tree_mib() -> float:
    """What travels besides the carried folder: tracked files and untracked ones git does not ignore."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                           text=True).stdout.split("\0")
    return sum((ROOT / f).stat().st_size for f in files if f and (ROOT / f).is_file()) / 2**20


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=ROOT / ".whl", help="output folder (default: .whl/)")
    parser.add_argument("--corpus", type=Path, default=CORPUS,
                        help="Multi30k raw files to carry (default: %(default)s)")
    args = parser.parse_args(argv)
    carried, spares, lines = closure()
    pins = {**carried, **spares}
    args.dest.mkdir(parents=True, exist_ok=True)
    for old in args.dest.glob("*.whl"):  # keep one version of each: two stop the whole install there
        if norm(wheel_name(old)) not in pins:
            old.unlink()
    download([f"{n}=={v}" for n, v in sorted(pins.items())], args.dest)
    got = {wheel_name(p): p for p in args.dest.glob("*.whl")}
    if missing := sorted(set(pins) - set(got)):
        raise SystemExit(f"no wheel for: {', '.join(missing)}")
    (args.dest / "requirements.txt").write_text("\n".join(lines) + "\n")
    if args.corpus.is_dir():
        shutil.copytree(args.corpus, args.dest / "multi30k", dirs_exist_ok=True)
    else:
        print(f"warning: {args.corpus} not found: the check will need corpora.multi30k elsewhere", file=sys.stderr)
    print(f"{len(carried)} packages the image lacks, {len(spares)} spares for image packages they constrain "
          f"({', '.join(spares)})")
    for name, path in sorted(got.items()):
        print(f"  {path.stat().st_size / 2**20:6.2f} MiB  {path.name}{'  (spare)' if name in spares else ''}")
    total, tree = mib(args.dest), tree_mib()
    print(f"total {total:.1f} MiB in {args.dest}; with the working tree ({tree:.1f} MiB) {total + tree:.1f} MiB of the "
          f"{LIMIT_MIB} MiB that may travel")
    if total + tree > LIMIT_MIB:
        raise SystemExit(f"{args.dest} ({total:.1f} MiB) and the working tree ({tree:.1f} MiB): over {LIMIT_MIB} MiB")


if __name__ == "__main__":
    main()
