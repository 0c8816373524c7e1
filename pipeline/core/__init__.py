"""Shared by every stage: errors, params, the run/variant ids, the artifact schema, tracking, the tokenizer.

Empty on purpose: importing `pipeline.core.errors` must not import torch or mlflow."""
