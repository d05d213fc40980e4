"""Figures of the experiments as PNG files (plots.py): per-frame score curves, ROC curves,
AUC by training step, appearance gaps and training losses; the live overlay (overlay.py);
the HTML report page (report.py)."""
