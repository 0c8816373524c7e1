"""Evaluation metrics: translation quality by length, attention alignment, compute cost."""
