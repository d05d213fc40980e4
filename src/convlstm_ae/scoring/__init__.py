"""Scoring: per-frame reconstruction error (Eq. 3) and regularity score (Eq. 4)."""
