"""Report building blocks: significance tests, tables, figures, rendering (the stage is pipeline/report.py)."""
