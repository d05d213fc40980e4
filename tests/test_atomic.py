"""JSON written byte-stable, and only when its content changed."""

import shutil
import subprocess
from pathlib import Path

from convlstm_ae.atomic import write_json
from convlstm_ae.cli import main

RESULTS = Path(__file__).parents[1] / "docs" / "results" / "ped2-h100-full-budget"


def test_last_bit_float_changes_leave_the_file_untouched(tmp_path):
    path = tmp_path / "results.json"
    assert write_json(path, {"auc": 0.8885230875031184, "runs": [1, 2.5], "name": "x"})
    written = path.read_bytes()
    assert not write_json(path, {"auc": 0.8885230875031185, "runs": [1, 2.5], "name": "x"})
    assert path.read_bytes() == written
    assert write_json(path, {"auc": 0.889, "runs": [1, 2.5], "name": "x"})
    assert b'"auc": 0.889' in path.read_bytes()


def test_a_committed_file_in_full_precision_is_not_rewritten(tmp_path):
    path = tmp_path / "results.json"
    path.write_text('{"auc": 0.8885230875031184}')
    assert not write_json(path, {"auc": 0.8885230875031185})
    assert path.read_text() == '{"auc": 0.8885230875031184}'


def test_tables_leaves_the_committed_ped2_results_byte_for_byte(tmp_path, capsys):
    run = tmp_path / "ped2"
    shutil.copytree(RESULTS, run)
    assert main(["tables", str(run), "--patch"]) == 0
    assert "results.json (unchanged)" in capsys.readouterr().out
    changed = subprocess.run(["diff", "-rq", str(RESULTS), str(run)], capture_output=True,
                             text=True)
    assert changed.returncode == 0, changed.stdout
