"""Shared by train and evaluate: one grid member resolved against params.yaml (its configs, folders, data) and
its batches."""
