"""The README's quoted figures agree with the files they come from."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
PED2 = json.loads((ROOT / "docs/results/ped2-h100-full-budget/results.json").read_text())
# a Ped2 row's reading, by the words of its reading column (the first match wins)
PED2_READINGS = (("Gaussian", "released_smoothed"), ("authors' code", "released"),
                 ("paper's text", "paper"), ("sliding windows", "sliding"),
                 ("sliding-clip error", "paper"))  # Conv-AE: Hasan et al.'s error, summed
PED2_ROW = re.compile(r"^\| (?:ConvLSTM-AE|Conv-AE) \[([\w-]+)\], \d+k \| (.*)$", re.MULTILINE)


def agrees(quoted: str, value: float) -> bool:
    """``quoted`` (bold or not) is ``value`` rounded to the digits it shows."""
    text = quoted.strip("* ")
    decimals = len(text.split(".")[1]) if "." in text else 0
    return abs(float(text) - value) <= 0.5 * 10**-decimals + 1e-9


def ped2_rows() -> list[tuple[str, str, list[str]]]:
    rows = []
    for preset, rest in PED2_ROW.findall(README):
        reading, *cells = [cell.strip() for cell in rest.rstrip("|").split("|")]
        rows.append((preset, reading, cells))
    return rows


def test_the_ped2_table_is_found():
    assert len(ped2_rows()) == 10


@pytest.mark.parametrize(("preset", "reading", "cells"), ped2_rows(),
                         ids=lambda value: value if isinstance(value, str) else None)
def test_each_ped2_row_matches_results_json(preset, reading, cells):
    key = next(key for words, key in PED2_READINGS if words in reading)
    frame = PED2["models"][preset]["readings"][key]["frame"]
    paper, deployment = frame["paper"], frame.get("deployment", {})
    expected = [paper["micro_auc"], paper["macro_auc"], paper["eer"]]
    if cells[3]:
        expected += [deployment[name] for name in ("auc", "precision", "recall", "f1",
                                                   "false_alarms_per_minute")]
    quoted = [cell for cell in cells if cell]
    assert len(quoted) == len(expected)
    for text, value in zip(quoted, expected, strict=True):
        assert agrees(text, value), (preset, reading, text, value)


def test_the_ped2_training_times_match_results_json():
    models = PED2["models"]
    assert f"steps, {models['caffe']['train_seconds']:,.0f} s at" in README
    assert f"15,000 steps in {models['conv-ae']['train_seconds']:.0f} s" in README
