"""Figures of scores, ROC curves and training losses, heat-map overlays and reports."""
