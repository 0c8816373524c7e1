"""Readable output: after `pipeline.core.logs.configure()`, a real tracked Lightning fit prints no library chatter;
`ATTNBENCH_DEBUG=1` brings all of it back."""

from __future__ import annotations

import os
import subprocess
import sys

from pipeline.core.git import PROJECT

# A stage in miniature: configure first (before Lightning and MLflow are imported, the harder order: both set their
# loggers up on import), a member run with system metrics on a fresh SQLite store, a `datasets` save, a 3-step fit.
FIT = """
from pipeline.core import logs
verbose = logs.configure()
import datasets, lightning as L, torch
from lightning.pytorch.loggers import MLFlowLogger
from pipeline.core.tracking import start_member_run, tracking_uri

class Toy(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 1)
    def training_step(self, batch, i):
        return self.lin(batch[0]).pow(2).mean()
    def validation_step(self, batch, i):
        self.log("val/loss", self.lin(batch[0]).pow(2).mean())
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

datasets.Dataset.from_dict({"src": ["a", "b"], "tgt": ["c", "d"]}).save_to_disk("ds")
data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(12, 4)), batch_size=4)
with start_member_run("toy-s1", "toy", "toy", "ablation", "train@toy-s1", "0") as active:
    logger = MLFlowLogger(tracking_uri=tracking_uri(), run_id=active.info.run_id, log_model=False)
    trainer = L.Trainer(max_steps=3, val_check_interval=3, check_val_every_n_epoch=None, logger=logger,
                        enable_progress_bar=verbose, enable_model_summary=verbose, default_root_dir="ckpt")
    trainer.fit(Toy(), data, data)
print("fitted", trainer.global_step)
"""
NOISE = ("INFO", "Tip", "GPU available", "alembic", "FLOPs", "Epoch 0/", "Saving the dataset")


def run_fit(tmp_path, name: str, **env: str) -> subprocess.Popen:
    (tmp_path / name).mkdir()
    # not inherited: what an in-process configure() of an earlier test set (HF_DATASETS_DISABLE_PROGRESS_BARS)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ATTNBENCH_", "HF_DATASETS_DISABLE"))}
    env = dict(clean, MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / name / 'mlflow.db'}", PYTHONPATH=str(PROJECT),
               **env)
    return subprocess.Popen([sys.executable, "-c", FIT], cwd=tmp_path / name, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_a_tracked_fit_after_configure_prints_no_library_chatter_and_debug_restores_it(tmp_path):
    quiet, loud = run_fit(tmp_path, "quiet", ATTNBENCH_DEBUG=""), run_fit(tmp_path, "loud", ATTNBENCH_DEBUG="1")
    # (both at once: each is mostly imports)
    (out, err), (loud_out, loud_err) = quiet.communicate(timeout=300), loud.communicate(timeout=300)
    assert quiet.returncode == 0 and loud.returncode == 0, (err[-2000:], loud_err[-2000:])
    assert out.strip() == "fitted 3", out
    assert [line for line in (out + err).splitlines() if any(word in line for word in NOISE)] == []
    shown = loud_out + loud_err  # the same fit under ATTNBENCH_DEBUG=1: the check above is not vacuous
    assert all(word in shown for word in ("INFO", "GPU available", "FLOPs", "Saving the dataset")), shown[-2000:]
