"""The located live score on Moving-MNIST: chosen on validation alone, the live scorer's
numbers, a record that rebuilds the figures and refuses an edited choice."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from convlstm_ae.errors import CheckpointError
from convlstm_ae.experiments import figures, located_mnist
from convlstm_ae.experiments.located_mnist import (
    LocatedStudy,
    Sequences,
    pooled_auc,
    study,
)
from convlstm_ae.scoring.located import LocatedDesign, LocatedScorer, fit_statistics

CELLS, LENGTH, T_PRIME = 8, 20, 10


def sequences(seed: int, count: int, anomalous: bool) -> Sequences:
    """Cell errors (count, 20, 8, 8) with a busy band in rows 2-3; anomalous sequences have
    a box: one cell three times its error in frames 5-9, labelled 1."""
    rng = np.random.default_rng(seed)
    cells = rng.gamma(20, 1 / 20, (count, LENGTH, CELLS, CELLS))
    cells[:, :, 2:4] *= 4
    labels = np.zeros((count, LENGTH), np.uint8)
    if anomalous:
        labels[:, 5:10] = 1
        for i, (y, x) in enumerate(rng.integers(0, CELLS, (count, 2))):
            cells[i, 5:10, y, x] *= 3
    history = np.tile(np.arange(LENGTH) % T_PRIME, (count, 1))
    return Sequences(cells, history, labels)


NORMAL = sequences(0, 12, False)
VALIDATION = {"val_appearance": sequences(1, 6, True), "val_motion": sequences(2, 6, True)}
TEST = {"appearance": sequences(3, 6, True)}


@pytest.fixture
def small_grid(monkeypatch):
    """Every 6th design at three cell sizes: the grid's kinds, a tenth of its time."""
    monkeypatch.setattr(located_mnist, "DESIGNS", located_mnist.DESIGNS[::6])
    monkeypatch.setattr(located_mnist, "CELL_FACTORS", (1, 2, 4))


def test_the_choice_never_reads_the_test_sets(small_grid):
    first = study(NORMAL, VALIDATION, TEST, base_cell=2)
    test = TEST["appearance"]
    other = Sequences(test.cells[::-1] * 5, test.history, 1 - test.labels)  # all changed
    second = study(NORMAL, VALIDATION, {"appearance": other}, base_cell=2)
    assert second.chosen == first.chosen
    np.testing.assert_array_equal(second.validation_auc, first.validation_auc)
    assert len(first.candidates) == len(located_mnist.CELL_FACTORS) * len(located_mnist.DESIGNS)
    means = first.validation_auc.mean(axis=1)
    assert means[first.chosen] == means.max() > 0.95  # the box is found where it is
    assert pooled_auc(first.scores["appearance"], first.labels["appearance"]) > 0.9
    assert pooled_auc(second.scores["appearance"], second.labels["appearance"]) < 0.5


@pytest.mark.parametrize("design", [LocatedDesign("excess", "top", "cells", 0.5),
                                    LocatedDesign("z", "max", "stream", 0.25)])
def test_the_scores_are_a_live_scorers_frame_by_frame(monkeypatch, design):
    monkeypatch.setattr(located_mnist, "DESIGNS", (design,))
    monkeypatch.setattr(located_mnist, "CELL_FACTORS", (2,))
    found = study(NORMAL, VALIDATION, TEST, base_cell=2)
    assert found.candidate.design == design and found.candidate.factor == 2
    statistics = fit_statistics(list(NORMAL.pooled(2)), list(NORMAL.history), design)
    test = TEST["appearance"]
    for i, cells in enumerate(test.pooled(2)):  # each sequence a new live stream
        scorer = LocatedScorer(statistics, design)
        live = [scorer(frame[None], test.history[i, t:t + 1])[0][0]
                for t, frame in enumerate(cells)]
        np.testing.assert_allclose(found.scores["appearance"][i], live, rtol=1e-12)


def test_the_record_rebuilds_the_figures_and_refuses_an_edited_choice(tmp_path, small_grid):
    path = tmp_path / located_mnist.LOCATED
    found = study(NORMAL, VALIDATION, TEST, base_cell=2, windows="reset", t_prime=T_PRIME)
    found.save(path)
    figures = LocatedStudy.load(path).figures()
    assert figures["cell_size"] == 2 * found.candidate.factor
    assert figures["windows"] == "reset" and figures["t_prime"] == T_PRIME
    for name, scores in found.scores.items():
        assert figures["auc"][name] == pytest.approx(
            pooled_auc(scores, found.labels[name]), abs=1e-6)
    assert len(figures["validation_mean_auc"]) == len(found.candidates)
    assert max(figures["validation_mean_auc"].values()) == pytest.approx(
        found.validation_auc.mean(axis=1)[found.chosen])
    edited = found.validation_auc.copy()
    edited[found.chosen] = 0.0  # the stored test scores are no longer the choice's
    LocatedStudy(found.base_cell, found.candidates, found.validation, edited, found.chosen,
                 found.scores, found.labels, found.meta).save(path)
    with pytest.raises(CheckpointError, match="not the validation's best"):
        LocatedStudy.load(path)
    path.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="not a located-score record"):
        LocatedStudy.load(path)


def test_the_roc_figures_draw_each_located_score_beside_eq4(tmp_path, monkeypatch):
    """The committed `make demo` run: its ROC figures carry the located live curve, with
    the AUC its table states."""
    run = tmp_path / "run"
    shutil.copytree(Path(__file__).parents[2] / "docs/results/moving-mnist-cpu-demo", run)
    drawn = {}
    monkeypatch.setattr(figures, "plot_roc", lambda curves, path: drawn.setdefault(
        Path(path).name, curves))
    results = json.loads((run / "results.json").read_text())
    figures.write_figures(run, results)
    located = results["models"]["tiny"]["located"]["auc"]
    for scenario in ("appearance", "motion"):
        curves = drawn[f"roc_{scenario}.png"]
        assert curves["ConvLSTM-AE [tiny], located live"][2] == pytest.approx(
            located[scenario], abs=1e-6)
        assert "ConvLSTM-AE [tiny]" in curves and "Conv-AE [conv-ae-tiny]" in curves
