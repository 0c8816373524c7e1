"""The train stage's code: fit one grid member with the Lightning Trainer (entry point: pipeline/train.py)."""
