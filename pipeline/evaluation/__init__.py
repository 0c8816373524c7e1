"""The evaluate stage's code: decode, score and cost one trained member (entry point: pipeline/evaluate.py)."""
