"""`attnbench ui`: the MLflow UI on the project's store, with one link per experiment that opens its runs table.

    attnbench ui                 # serves http://127.0.0.1:5000 until Ctrl-C (`make ui`)
    attnbench ui --port 5001     # when 5000 is taken

The store is the one every stage logs to (`pipeline.core.tracking.tracking_uri`: `MLFLOW_TRACKING_URI`, else the
project's mlflow.db). A local store is served by a child `mlflow server` with one worker on 127.0.0.1; the links are
printed only once that server answers, and Ctrl-C stops it. A tracking server (`MLFLOW_TRACKING_URI=http://...`)
already serves the UI: its links are printed and nothing is started.

What a link can set in MLflow 3.17's UI, read from its JS bundle (mlflow/server/js/build):
- the view: `#/experiments/<id>` lands on the GenAI overview (traces, with a "Detect Issues" popover) unless
  `workflowType=machine_learning`, whatever the experiment's `mlflow.experimentKind` tag says (the UI takes the kind
  from the URL, else from the browser's last choice, default GenAI), and its redirect to a tab drops every other
  query parameter, so a link names the runs tab itself: `#/experiments/<id>/runs?workflowType=machine_learning`;
- filter and sort (`searchFilter`, `orderByKey`, `orderByAsc`, ...) but not columns, which the UI keeps in the
  browser's localStorage; a saved view (an experiment tag, `pipeline.core.tracking.experiment_tags`) sets all three,
  and `viewStateShareKey=<key>` opens it. The UI ignores a view when the link also holds a filter or sort, so the
  links carry the view alone: members only, best test BLEU first, the headline metrics as columns. The page says
  "You're viewing a shared view" above the table (× hides it); after "Exit shared view" the view is back through
  the Views menu at the top right ("attnbench: members by test BLEU").
A fresh browser also opens MLflow's Assistant panel once on a local server (its × closes it for good); it blocks
nothing.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode, urlparse

from pipeline.core import logs
from pipeline.core.errors import UserError, exit_on_user_error

HOST = "127.0.0.1"
EXPERIMENT_PREFIX = "attnbench-"
STOP_S = 10  # how long the server may take to shut down after Ctrl-C before it is killed


class ServerError(UserError):
    """The MLflow server did not start or stopped answering: one line, no traceback."""


def runs_link(base: str, experiment_id: str) -> str:
    """The link that opens an experiment's runs table on attnbench's saved view (module docstring)."""
    from pipeline.core.tracking import RUNS_VIEW_KEY

    query = urlencode({"workflowType": "machine_learning", "viewStateShareKey": RUNS_VIEW_KEY})
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs?{query}"


def _get_json(url: str, timeout: float, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return json.loads(answer.read() or b"{}")


def experiments(base: str, timeout: float = 10) -> list[tuple[str, str, bool]]:
    """(name without the prefix, id, has member runs) of the store's attnbench experiments, read through the
    server's own REST API (what the UI reads), in name order."""
    api = f"{base.rstrip('/')}/ajax-api/2.0/mlflow"
    found, token = [], None
    while True:
        page = _get_json(f"{api}/experiments/search", timeout,
                         {"max_results": 1000, **({"page_token": token} if token else {})})
        found += [e for e in page.get("experiments", []) if e["name"].startswith(EXPERIMENT_PREFIX)]
        if not (token := page.get("next_page_token")):
            break
    out = []
    for exp in sorted(found, key=lambda e: e["name"]):
        runs = _get_json(f"{api}/runs/search", timeout, {"experiment_ids": [exp["experiment_id"]], "max_results": 1,
                                                         "filter": "tags.`attnbench.role` = 'member'"})
        out.append((exp["name"].removeprefix(EXPERIMENT_PREFIX), exp["experiment_id"], bool(runs.get("runs"))))
    return out


def print_links(base: str, log: Path | None = None) -> None:
    """One line per experiment with its runs-table link, or where to start when there are none."""
    try:
        found = experiments(base)
    except (urllib.error.URLError, OSError, ValueError, KeyError) as e:
        raise ServerError(f"the MLflow server on {base} does not answer its REST API ({e})"
                          + (f"; its log: {log}" if log else "")) from e
    if not any(has_runs for *_, has_runs in found):
        print("no runs yet; run `make repro` first (the UI stays up and shows them as they come)")
    for name, exp_id, has_runs in found:
        print(f"  {name}: {runs_link(base, exp_id)}{'' if has_runs else '  (no runs yet)'}")
    if not found:
        print(f"  {base.rstrip('/')}/#/experiments?workflowType=machine_learning")
    sys.stdout.flush()


def update_views(uri: str) -> None:
    """Give every attnbench experiment of the store the current tags (its saved runs view), as the next member to
    start would (`tracking.experiment_id`): stores made before the view open on it too."""
    from mlflow.tracking import MlflowClient

    from pipeline.core.tracking import store_lock, update_experiment_tags

    try:
        with store_lock():  # the first access also creates an empty SQLite store's schema
            client = MlflowClient(uri)
            for exp in client.search_experiments(filter_string=f"name LIKE '{EXPERIMENT_PREFIX}%'"):
                update_experiment_tags(client, exp)
    except Exception as e:  # a store MLflow cannot open (a driver missing, a database down): one line (--debug: all)
        why = (str(e).strip().splitlines() or [""])[0]
        raise ServerError(f"the MLflow store {uri} cannot be opened: {type(e).__name__}: {why}") from e


def check_port(port: int) -> None:
    """A one-line error naming the port and `--port` if something already listens on it."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: a listener fails, TIME_WAIT not
        try:
            s.bind((HOST, port))
        except OSError as e:
            why = "in use" if e.errno == errno.EADDRINUSE else e.strerror or str(e)
            raise ServerError(f"port {port} on {HOST} is {why} (another `attnbench ui` or `mlflow ui`?); pick "
                              f"another with --port, e.g. `attnbench ui --port {port + 1}`") from e


def _last_line(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def wait_until_up(server: subprocess.Popen, base: str, log: Path, timeout: float) -> None:
    """Poll `/health` until it answers 200; a server that exits or stays silent for `timeout` s is a ServerError."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if (code := server.poll()) is not None:
            raise ServerError(f"the MLflow server exited (code {code}) before answering: {_last_line(log)} "
                              f"(its log: {log})")
        if time.monotonic() > deadline:
            raise ServerError(f"the MLflow server did not answer on {base} within {timeout:g} s (its log: {log}); "
                              "a slow machine may need --timeout")
        time.sleep(0.5)


def stop(server: subprocess.Popen | None) -> None:
    """Stop the server and the workers it started (its own process group): SIGTERM (uvicorn shuts down gracefully on
    it, and a SIGINT this process ignores is ignored by its children too), then SIGKILL."""
    if server is None:
        return
    for sig, wait_s in ((signal.SIGTERM, STOP_S), (signal.SIGKILL, 5)):
        try:
            os.killpg(server.pid, sig)  # the group outlives its leader if a worker lingers: killed as well
        except ProcessLookupError:
            return
        try:
            server.wait(wait_s)
        except subprocess.TimeoutExpired:
            continue


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def serve(uri: str, port: int, timeout: float) -> int:
    """Run `mlflow server` on `uri` until Ctrl-C (or SIGTERM), printing the links once it answers; the exit code."""
    check_port(port)
    update_views(uri)
    base = f"http://{HOST}:{port}"
    handle, name = tempfile.mkstemp(prefix=f"attnbench-ui-{port}-", suffix=".log")
    log = Path(name)
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri, "--host", HOST, "--port", str(port),
           "--workers", "1"]
    # without MLflow's job runner (GenAI judges and trace jobs: none here), one process less on the CPU
    env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **os.environ}
    previous = signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops the server too, as Ctrl-C does
    server = None
    try:
        with os.fdopen(handle, "w") as out:
            # its own process group: the terminal's Ctrl-C reaches this process alone, which stops the server's
            # whole group (the CLI and the uvicorn worker it starts) and waits for it
            server = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                      start_new_session=True)
        print(f"starting the MLflow UI on {uri} (server log: {log}) ...", flush=True)
        wait_until_up(server, base, log, timeout)
        print(f"MLflow UI: {base} (Ctrl-C stops it); each experiment's runs table:", flush=True)
        print_links(base, log)
        code = server.wait()
        raise ServerError(f"the MLflow server stopped (code {code}): {_last_line(log)} (its log: {log})")
    except KeyboardInterrupt:
        stop(server)
        log.unlink(missing_ok=True)  # kept only when the server failed (the error names it)
        print("MLflow UI stopped", flush=True)
        return 0
    finally:
        stop(server)
        signal.signal(signal.SIGTERM, previous)


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="attnbench ui", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5000, help="port on 127.0.0.1 (default 5000)")
    parser.add_argument("--timeout", type=float, default=120,
                        help="seconds the server may take to answer before giving up (default 120)")
    logs.add_flags(parser)
    args = parser.parse_args(argv)
    logs.configure(args.verbose)
    from pipeline.core.tracking import tracking_uri

    try:
        uri = tracking_uri()  # one line if the store cannot answer
        if urlparse(uri).scheme in ("http", "https"):  # a tracking server serves its own UI
            update_views(uri)
            print(f"MLflow UI: {uri} (MLFLOW_TRACKING_URI; already served there); each experiment's runs table:")
            print_links(uri)
            return
        sys.exit(serve(uri, args.port, args.timeout))
    except KeyboardInterrupt:  # before the server started
        sys.exit(130)


if __name__ == "__main__":
    main()
