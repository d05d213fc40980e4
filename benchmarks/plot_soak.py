"""Plot the RSS samples of benchmarks/soak.py and keep a downsampled copy of them.

    .venv/bin/python benchmarks/plot_soak.py soak-rss.csv --png docs/images/soak-rss.png \\
        --every 10 --keep benchmarks/results/soak-rss-10s.csv
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("--png", type=Path, required=True)
    parser.add_argument("--every", type=int, default=10, help="keep every Nth sample")
    parser.add_argument("--keep", type=Path, default=None, help="downsampled CSV")
    parser.add_argument("--title", default="convlstm-ae watch soak: RSS over time")
    args = parser.parse_args()
    with open(args.csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    minutes = [float(r["seconds"]) / 60 for r in rows]
    rss = [float(r["rss_mb"]) for r in rows]
    figure, axis = plt.subplots(figsize=(6, 3), dpi=90)
    axis.plot(minutes, rss, lw=1)
    axis.axvline(1.0, color="grey", ls=":", lw=1)
    axis.set_xlabel("minutes")
    axis.set_ylabel("RSS (MB)")
    axis.set_title(args.title, fontsize=10)
    low, high = min(rss), max(rss)
    axis.set_ylim(low - max(5, 0.1 * (high - low)), high + max(5, 0.1 * (high - low)))
    axis.grid(alpha=0.3)
    figure.tight_layout()
    args.png.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.png)
    if args.keep:
        args.keep.parent.mkdir(parents=True, exist_ok=True)
        with open(args.keep, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows([r for i, r in enumerate(rows)
                              if i % args.every == 0 or i == len(rows) - 1])


if __name__ == "__main__":
    main()
