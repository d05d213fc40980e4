"""Figures of the paper: score curves (Fig. 2, 5), ROC curves and training losses (Fig. 3, 4),
and one video's scores, alarms and events over time for reports.

Every function draws one figure, saves it as a PNG at 120 dpi (creating the
parent folders) and returns the path; figures are bare matplotlib Figures, so importing
this module changes no backend and leaves no pyplot state. Methods get colours from one
fixed cycle starting red, blue, so that, listed in that order, ConvLSTM-AE is
red and Conv-AE blue as in the paper.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from convlstm_ae.errors import ConfigError
from convlstm_ae.metrics import abnormal_runs

COLORS = ("tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:brown")
DPI = 120
LOG_SCALE_DECADES = 2  # training losses spanning more decades get a log y axis
SMOOTHING_POINTS = 25  # the moving average spans about 1/25 of a loss history

PathLike = str | os.PathLike[str]


def plot_roc(curves: Mapping[str, tuple[np.ndarray, np.ndarray, float]], path: PathLike) -> Path:
    """ROC curves of several methods in one square plot, with the chance line.

    Args:
        curves: method name -> ``(fpr, tpr, auc)``, e.g. from
            :func:`convlstm_ae.metrics.roc_points` and ``FrameMetrics.micro_auc``.
        path: PNG file to write.

    Returns:
        The path written.

    Raises:
        ConfigError: no curves, or an fpr and tpr of different lengths.
    """
    _check_any(curves, path)
    for name, (fpr, tpr, _) in curves.items():
        if len(fpr) != len(tpr):
            raise ConfigError(f"{path}: curve {name!r} has {len(fpr)} fpr but {len(tpr)} tpr")
    fig = Figure(figsize=(5, 5), layout="constrained")
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="gray", linestyle="--", linewidth=1, label="chance")
    for index, (name, (fpr, tpr, auc)) in enumerate(curves.items()):
        ax.plot(fpr, tpr, color=_color(index), linewidth=1.8, label=f"{name} (AUC {auc:.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(loc="lower right")
    return _save(fig, path)


def plot_score_grid(
    panels: Sequence[tuple[str, Mapping[str, np.ndarray], np.ndarray]],
    path: PathLike,
    *,
    ncols: int = 2,
) -> Path:
    """Several videos' per-frame scores against their ground truth, as in Fig. 2 and 5.

    Args:
        panels: ``(title, curves, labels)`` per video, e.g. a few test
            sequences of one scenario: curves map a method name to per-frame scores
            in [0, 1]; labels are the 0/1 ground truth, abnormal runs shaded light red.
        path: PNG file to write.
        ncols: panels per row.

    Returns:
        The path written.

    Raises:
        ConfigError: no panels, ``ncols`` below 1, or a panel without curves or with a
            curve not as long as its labels.
    """
    if not panels:
        raise ConfigError(f"{path}: no panels to plot")
    if ncols < 1:
        raise ConfigError(f"{path}: ncols must be at least 1, got {ncols}")
    for title, curves, labels in panels:
        _check_scores(curves, labels, path, f"panel {title!r}: ")
    ncols = min(ncols, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(6 * ncols, 0.4 + 2.8 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, (title, curves, labels) in zip(axes.ravel()[: len(panels)], panels, strict=True):
        _draw_scores(ax, curves, labels, title)
    for ax in axes.ravel()[len(panels) :]:
        ax.set_visible(False)
    _legend_above(fig, axes.ravel()[: len(panels)])
    return _save(fig, path)


def plot_timeline(
    frames: np.ndarray,
    path: PathLike,
    *,
    regularity: np.ndarray | None = None,
    calibrated: np.ndarray | None = None,
    threshold: float | None = None,
    labels: np.ndarray | None = None,
    alarms: np.ndarray | None = None,
    events: Sequence[tuple[int, int]] = (),
    title: str = "",
) -> Path:
    """One video's scores over time: s(t) above, the calibrated score and its threshold
    below, each present one in its own panel sharing the frame axis.

    Ground-truth abnormal runs are shaded light red on every panel; alarm runs orange
    and events (``(start_frame, end_frame)``, inclusive) outlined in purple on the
    lowest, the calibrated score's when present.

    Args:
        frames: frame number of each row.
        path: PNG file to write.
        regularity: s(t) in [0, 1] per row.
        calibrated: the deployment score per row (higher = worse).
        threshold: the alarm threshold of ``calibrated``.
        labels: 0/1 ground truth per row.
        alarms: 0/1 alarm per row.
        events: frame spans of alarm events.
        title: above the figure.

    Raises:
        ConfigError: neither score, or a column not as long as ``frames``.
    """
    curves = {name: values for name, values in (("regularity s(t)", regularity),
                                                 ("calibrated score", calibrated))
              if values is not None}
    _check_any(curves, path)
    for name, values in {**curves, "labels": labels, "alarms": alarms}.items():
        if values is not None and len(values) != len(frames):
            raise ConfigError(f"{path}: {name} has {len(values)} rows but frames {len(frames)}")
    frames = np.asarray(frames)
    fig = Figure(figsize=(10, 0.6 + 1.9 * len(curves)), layout="constrained")
    axes = fig.subplots(len(curves), 1, sharex=True, squeeze=False)[:, 0]
    for index, (ax, (name, values)) in enumerate(zip(axes, curves.items(), strict=True)):
        _shade_runs(ax, frames, labels, "red", 0.15, "abnormal (ground truth)")
        if ax is axes[-1]:
            _shade_runs(ax, frames, alarms, "tab:orange", 0.3, "alarm")
            for number, (start, end) in enumerate(events):
                ax.axvspan(start - 0.5, end + 0.5, fill=False, edgecolor="tab:purple",
                           linewidth=1.2, label="event" if number == 0 else None)
        ax.plot(frames, values, color=_color(index), linewidth=1.4, label=name)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        if name == "calibrated score" and threshold is not None:
            ax.axhline(threshold, color="black", linestyle="--", linewidth=1,
                       label=f"threshold {threshold:.3g}")
    if regularity is not None:
        axes[0].set_ylim(0, 1.02)
    axes[-1].set_xlim(frames.min() - 0.5, frames.max() + 0.5)
    axes[-1].set_xlabel("frame")
    if title:
        fig.suptitle(title, fontsize=10, x=0.01, ha="left")
    _legend_above(fig, axes)
    return _save(fig, path)


def plot_auc_by_steps(curves: Mapping[str, np.ndarray], path: PathLike) -> Path:
    """Frame-level AUC against training steps, one line per model and reading.

    Args:
        curves: name -> (K, 2) array of ``(steps, auc)`` points.
        path: PNG file to write.
    """
    _check_any(curves, path)
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    for index, (name, points) in enumerate(curves.items()):
        points = np.asarray(points, dtype=np.float64)
        ax.plot(points[:, 0], points[:, 1], marker="o", color=_color(index // 2),
                linestyle="-" if index % 2 else "--", label=name)
    ax.set_xlabel("training step")
    ax.set_ylabel("frame-level AUC (micro)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, path)


def plot_appearance_gap(gaps: Mapping[str, Mapping[int, np.ndarray]], path: PathLike) -> Path:
    """How far an occluder lifts the error of the frames it covers, per box size, in
    units of the spread of normal errors (one box plot per model and size).

    Args:
        gaps: model name -> box side in px -> lifts of all occluded frames.
        path: PNG file to write.
    """
    _check_any(gaps, path)
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / len(gaps)
    sizes = sorted({box for by_box in gaps.values() for box in by_box})
    for index, (name, by_box) in enumerate(gaps.items()):
        positions = [i + (index - (len(gaps) - 1) / 2) * width for i in range(len(sizes))]
        parts = ax.boxplot([by_box[box] for box in sizes], positions=positions, widths=width * 0.9,
                           showfliers=False, patch_artist=True)
        for box in parts["boxes"]:
            box.set_facecolor(_color(index))
            box.set_alpha(0.5)
        ax.plot([], [], color=_color(index), linewidth=6, alpha=0.5, label=name)
    ax.axhline(0, color="gray", linewidth=1)
    ax.axhline(1, color="gray", linewidth=1, linestyle="--", label="1 std of normal errors")
    ax.set_xticks(range(len(sizes)), [f"{box}x{box} px" for box in sizes])
    ax.set_xlabel("occluder")
    ax.set_ylabel("lift of e(t) / std of normal e(t)")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_training_loss(
    histories: Mapping[str, tuple[np.ndarray, np.ndarray]],
    path: PathLike,
    *,
    ylabel: str = "reconstruction error per frame",
) -> Path:
    """Loss against training step for several runs, as in Fig. 3 and 4.

    Each run is a light line of the raw values under a moving average of the
    same colour. The y axis is logarithmic when the positive losses span more
    than two decades.

    Args:
        histories: run name -> ``(steps, loss)``, e.g. from :func:`read_metrics_csv`.
        path: PNG file to write.
        ylabel: y axis label.

    Returns:
        The path written.

    Raises:
        ConfigError: no histories, or steps and losses of different lengths.
    """
    _check_any(histories, path)
    for name, (steps, loss) in histories.items():
        if len(steps) != len(loss):
            raise ConfigError(
                f"{path}: history {name!r} has {len(steps)} steps but {len(loss)} losses"
            )
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    for index, (name, (steps, loss)) in enumerate(histories.items()):
        color = _color(index)
        loss = np.asarray(loss, dtype=np.float64)
        window = max(1, loss.size // SMOOTHING_POINTS)
        ax.plot(steps, loss, color=color, alpha=0.3, linewidth=0.8)
        ax.plot(steps, _moving_average(loss, window), color=color, linewidth=1.8, label=name)
    values = np.concatenate([np.asarray(loss, dtype=np.float64) for _, loss in histories.values()])
    if values.size and values.min() > 0 and values.max() > values.min() * 10**LOG_SCALE_DECADES:
        ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel)
    ax.legend()
    return _save(fig, path)


def read_metrics_csv(path: PathLike, column: str = "train_loss") -> tuple[np.ndarray, np.ndarray]:
    """Reads one logged value against step from Lightning's ``CSVLogger`` file.

    ``CSVLogger`` writes one row per logging call with every column present and
    the values not logged in that call left empty; those rows are skipped.

    Args:
        path: the ``metrics.csv`` of a run.
        column: the logged name, e.g. ``"train_loss"`` or ``"val_loss"``.

    Returns:
        ``(steps, values)`` of the rows holding ``column``, as int and float arrays.

    Raises:
        ConfigError: the file is missing or has no ``step`` or ``column`` column.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file; expected a Lightning CSVLogger metrics.csv")
    with path.open(newline="") as file:
        reader = csv.DictReader(file)
        header = reader.fieldnames or []
        for needed in ("step", column):
            if needed not in header:
                raise ConfigError(
                    f"{path}: no {needed!r} column; found {', '.join(header) or 'none'}"
                )
        rows = [(row["step"], row[column]) for row in reader if row[column]]
    steps = np.array([int(float(step)) for step, _ in rows], dtype=np.int64)
    values = np.array([float(value) for _, value in rows], dtype=np.float64)
    return steps, values


def _draw_scores(
    ax: Axes, curves: Mapping[str, np.ndarray], labels: np.ndarray, title: str
) -> None:
    """Draws score curves over shaded ground-truth runs on one axes."""
    num_frames = len(labels)
    for index, (start, stop) in enumerate(abnormal_runs(labels)):
        ax.axvspan(
            start - 0.5,
            stop - 0.5,
            color="red",
            alpha=0.15,
            linewidth=0,
            label="abnormal (ground truth)" if index == 0 else None,
        )
    for index, (name, scores) in enumerate(curves.items()):
        ax.plot(np.arange(num_frames), scores, color=_color(index), linewidth=1.5, label=name)
    ax.set_xlim(-0.5, num_frames - 0.5)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("frame index")
    ax.set_ylabel("regularity score s(t)")
    if title:
        ax.set_title(title)


def _shade_runs(ax: Axes, frames: np.ndarray, flags: np.ndarray | None, color: str,
                alpha: float, label: str) -> None:
    """Shades each run of set ``flags`` from its first to its last frame."""
    if flags is None:
        return
    for index, (start, stop) in enumerate(abnormal_runs(np.asarray(flags) > 0)):
        ax.axvspan(frames[start] - 0.5, frames[stop - 1] + 0.5, color=color, alpha=alpha,
                   linewidth=0, label=label if index == 0 else None)


def _legend_above(fig: Figure, axes: Sequence[Axes]) -> None:
    """One legend for all axes, in a row above them, so that it hides no score."""
    entries: dict[str, Artist] = {}
    for ax in axes:
        for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(name, handle)
    fig.legend(
        list(entries.values()),
        list(entries.keys()),
        loc="outside upper center",
        ncols=len(entries),
        frameon=False,
    )


def _check_any(items: Mapping[str, object], path: PathLike) -> None:
    """Raises when there is nothing to plot."""
    if not items:
        raise ConfigError(f"{path}: no curves to plot")


def _check_scores(
    curves: Mapping[str, np.ndarray], labels: np.ndarray, path: PathLike, where: str
) -> None:
    """Raises unless there are curves, each as long as the labels."""
    if not curves:
        raise ConfigError(f"{path}: {where}no curves to plot")
    for name, scores in curves.items():
        if len(scores) != len(labels):
            raise ConfigError(
                f"{path}: {where}curve {name!r} has {len(scores)} frames "
                f"but labels have {len(labels)}"
            )


def _color(index: int) -> str:
    """Colour of the ``index``-th method, cycling through ``COLORS``."""
    return COLORS[index % len(COLORS)]


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` values, over fewer at the start; same length."""
    sums = np.concatenate([[0.0], np.cumsum(values)])
    stops = np.arange(1, values.size + 1)
    starts = np.maximum(stops - window, 0)
    return (sums[stops] - sums[starts]) / (stops - starts)


def _save(fig: Figure, path: PathLike) -> Path:
    """Saves ``fig`` as a PNG, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, format="png")  # a bare Figure: no pyplot state, no backend
    return path
