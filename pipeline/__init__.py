"""attnbench pipeline: one thin entry point per DVC stage (`python -m pipeline.<stage>`) over packages laid out
by stage (`data/`, `training/`, `evaluation/`, `reporting/`) and two shared ones (`core/`: every stage;
`member/`: train and evaluate). DESIGN.md has the layout and `tests/test_deps.py` keeps `dvc.yaml` true to it."""
