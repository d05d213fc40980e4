"""Tests of the figures: each writes a real PNG; the CSV reader and helpers are exact."""

import re

import numpy as np
import pytest

from convlstm_ae.errors import ConfigError
from convlstm_ae.viz.plots import (
    plot_roc,
    plot_score_grid,
    plot_training_loss,
    read_metrics_csv,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 1024


def _video(num_frames=60, start=20, stop=35):
    labels = np.zeros(num_frames, dtype=int)
    labels[start:stop] = 1
    frames = np.arange(num_frames)
    return labels, {
        "ConvLSTM-AE": 1 - 0.8 * labels - 0.05 * np.sin(frames),
        "Conv-AE": 1 - 0.4 * labels - 0.1 * np.cos(frames) - 0.05,
    }


def test_plot_roc_writes_png_in_new_folder(tmp_path):
    fpr = np.array([0, 0.1, 0.5, 1])
    tpr = np.array([0, 0.6, 0.9, 1])
    path = plot_roc(
        {"ConvLSTM-AE": (fpr, tpr, 0.912), "Conv-AE": (fpr, tpr**2, 0.7)},
        tmp_path / "new" / "roc.png",
    )
    assert path == tmp_path / "new" / "roc.png"
    _assert_png(path)


def test_plot_score_grid_writes_png_with_a_spare_cell(tmp_path):
    panels = []
    for index in range(3):
        labels, curves = _video(start=5 * index)
        panels.append((f"sequence {index}", curves, labels))
    _assert_png(plot_score_grid(panels, tmp_path / "grid.png", ncols=2))


def test_plot_training_loss_writes_png_on_log_and_linear_axes(tmp_path):
    steps = np.arange(200)
    decaying = 100 * np.exp(-steps / 20) + 0.01  # spans four decades: log axis
    flat = 1 + 0.1 * np.sin(steps)
    _assert_png(plot_training_loss({"ConvLSTM-AE": (steps, decaying)}, tmp_path / "log.png"))
    _assert_png(plot_training_loss({"Conv-AE": (steps, flat)}, tmp_path / "linear.png"))


def test_read_metrics_csv_skips_rows_without_the_column(tmp_path):
    # CSVLogger writes every column in every row, leaving unlogged ones empty.
    path = tmp_path / "metrics.csv"
    path.write_text(
        "epoch,step,train_loss,val_loss\n0,49,0.52,\n0,99,0.31,\n0,99,,0.40\n1,149,0.22,\n"
    )
    steps, loss = read_metrics_csv(path)
    np.testing.assert_array_equal(steps, [49, 99, 149])
    np.testing.assert_allclose(loss, [0.52, 0.31, 0.22])
    steps, loss = read_metrics_csv(path, column="val_loss")
    np.testing.assert_array_equal(steps, [99])
    np.testing.assert_allclose(loss, [0.40])


def test_read_metrics_csv_errors_name_the_file(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,step,val_loss\n0,99,0.4\n")
    with pytest.raises(ConfigError, match=r"metrics.csv: no 'train_loss' column; found epoch"):
        read_metrics_csv(path)
    with pytest.raises(ConfigError, match=r"missing.csv: no such file"):
        read_metrics_csv(tmp_path / "missing.csv")


@pytest.mark.parametrize(
    ("draw", "message"),
    [
        (lambda path: plot_roc({}, path), "no curves to plot"),
        (
            lambda path: plot_roc({"a": (np.zeros(3), np.zeros(2), 0.5)}, path),
            "curve 'a' has 3 fpr but 2 tpr",
        ),
        (lambda path: plot_score_grid([], path), "no panels to plot"),
        (
            lambda path: plot_score_grid([("v", {"a": np.zeros(2)}, np.zeros(2))], path, ncols=0),
            "ncols must be at least 1, got 0",
        ),
        (
            lambda path: plot_score_grid([("v", {"a": np.zeros(3)}, np.zeros(2))], path),
            "panel 'v': curve 'a' has 3 frames but labels have 2",
        ),
        (
            lambda path: plot_training_loss({"a": (np.arange(3), np.ones(2))}, path),
            "history 'a' has 3 steps but 2 losses",
        ),
    ],
)
def test_bad_plot_input_raises_config_error(tmp_path, draw, message):
    with pytest.raises(
        ConfigError, match=f"^{re.escape(str(tmp_path / 'x.png'))}: {re.escape(message)}$"
    ):
        draw(tmp_path / "x.png")


def test_plot_timeline_panels_and_checks(tmp_path):
    from convlstm_ae.viz.plots import plot_timeline

    frames = np.arange(10, 70)
    labels, curves = _video()
    path = plot_timeline(frames, tmp_path / "t.png", regularity=curves["Conv-AE"],
                         calibrated=3 * labels, threshold=1.5, labels=labels, alarms=labels,
                         events=[(30, 44)], title="<video>")
    _assert_png(path)
    _assert_png(plot_timeline(frames, tmp_path / "c.png", calibrated=3.0 * labels))
    with pytest.raises(ConfigError, match="no curves"):
        plot_timeline(frames, tmp_path / "x.png")
    with pytest.raises(ConfigError, match="labels has 59 rows"):
        plot_timeline(frames, tmp_path / "x.png", regularity=curves["Conv-AE"], labels=labels[1:])
