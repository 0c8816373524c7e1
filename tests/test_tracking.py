"""MLflow tracking: the default store, the override, and safe first use by members that start at once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from pipeline.core.errors import ConfigError
from pipeline.core.tracking import HTTP_DEFAULTS, PROJECT, experiment_id, flat_metrics, params_hash, tracking_uri


def test_default_store_is_an_absolute_sqlite_file_and_the_env_overrides_it(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking_uri() == f"sqlite:///{PROJECT / 'mlflow.db'}" and PROJECT.is_absolute()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'other.db'}")
    assert tracking_uri() == f"sqlite:///{tmp_path / 'other.db'}"


def test_an_unreachable_server_is_one_config_error_naming_it_and_the_client_is_set_to_fail_fast(monkeypatch):
    with socket.socket() as s:  # bound, never listened on, released: connections are refused
        s.bind(("127.0.0.1", 0))
        uri = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    for name in HTTP_DEFAULTS:
        monkeypatch.delenv(name, raising=False)  # and restored afterwards, whatever the check sets
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "77")  # a user's own setting
    with pytest.raises(ConfigError, match=f"MLFLOW_TRACKING_URI {uri}: no MLflow server answers") as e:
        experiment_id("x")
    assert "connection refused" in str(e.value) and "\n" not in str(e.value)
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == HTTP_DEFAULTS["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "77"


def test_an_http_server_that_is_not_mlflow_is_one_config_error(monkeypatch):
    class NotFound(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_error(404)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    uri = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    try:
        with pytest.raises(ConfigError, match=f"MLFLOW_TRACKING_URI {uri}: the server there answers HTTP 404"):
            tracking_uri()
    finally:
        server.shutdown()


@pytest.mark.parametrize("form", ["sqlite:///{}/x.db", "file://{}", "{}"])
def test_a_store_under_a_file_is_one_config_error_naming_it(monkeypatch, tmp_path, form):
    (tmp_path / "afile").write_text("")
    uri = form.format(tmp_path / "afile" / "dir")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    with pytest.raises(ConfigError, match=f"MLFLOW_TRACKING_URI {uri}: cannot keep a store in .*afile is a file"):
        experiment_id("x")


def test_members_starting_at_once_share_one_store_experiment_and_parent(tmp_path):
    env = dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'fresh.db'}")
    code = "from pipeline.core.tracking import *; print(experiment_id('x'), grid_parent('x', 'ablation'))"
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, cwd=PROJECT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err[-800:] for _, err in outs]
    assert len({out.strip() for out, _ in outs}) == 1


def test_flat_metrics_and_params_hash():
    tree = {"test": {"greedy": {"bleu": 99.0, "signature": {"bleu": "x"}, "buckets": [1]}, "alignment": None}}
    assert flat_metrics(tree) == {"test/greedy/bleu": 99.0}
    assert params_hash({"a": 1, "b": 2}) == params_hash({"b": 2, "a": 1}) != params_hash({"a": 2})
