"""Output files: JSON written byte-stable and only when its content changed; never
renamed over a device or a pipe."""

import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from convlstm_ae.atomic import atomic_path, writable_file, write_json
from convlstm_ae.cli import main
from convlstm_ae.demo import demo_model_dir, write_demo_video
from convlstm_ae.errors import ConfigError, OutputExistsError
from test_cli import assert_user_error, run_cli

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


def test_a_device_or_pipe_is_never_replaced_by_an_output_file(tmp_path):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    with pytest.raises(ConfigError, match="pipe: exists and is not a regular file"):
        writable_file(pipe)
    with pytest.raises(ConfigError, match="not a regular file"):
        with atomic_path(pipe) as temporary:
            temporary.write_text("scores")
    assert stat.S_ISFIFO(pipe.stat().st_mode)  # still the pipe
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]  # no temporary left behind


def test_without_replace_an_existing_file_is_never_written_over(tmp_path):
    """Taken before the write starts, or while it runs (another writer got there first)."""
    path = tmp_path / "event.png"
    with atomic_path(path, replace=False) as temporary:
        temporary.write_text("first")
    with pytest.raises(OutputExistsError, match="event.png: exists already"):
        with atomic_path(path, replace=False) as temporary:
            temporary.write_text("second")
    assert path.read_text() == "first"
    path.unlink()
    with pytest.raises(OutputExistsError, match="event.png: exists already; an earlier"):
        with atomic_path(path, replace=False) as temporary:
            temporary.write_text("second")
            path.write_text("meanwhile")
    assert path.read_text() == "meanwhile"
    assert [p.name for p in tmp_path.iterdir()] == ["event.png"]  # no temporary left


def test_score_out_to_a_device_is_one_line_and_leaves_it(tmp_path):
    pipe = tmp_path / "scores.csv"
    os.mkfifo(pipe)
    code, _, err = run_cli("score", demo_model_dir(), tmp_path, "--out", pipe)
    assert_user_error(code, err, "scores.csv: exists and is not a regular file")
    assert pipe.is_fifo()


def test_a_full_disk_is_one_line_and_leaves_no_file(tmp_path):
    """The kernel's file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored) makes writes fail
    with EFBIG, as a full disk fails them with ENOSPC."""
    video = write_demo_video(tmp_path / "demo.avi", seconds=4)
    out = tmp_path / "out" / "scores.csv"
    out.parent.mkdir()

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    result = subprocess.run(
        [sys.executable, "-m", "convlstm_ae.cli", "score", str(demo_model_dir()),
         str(tmp_path / "demo.avi"), "--out", str(out), "--device", "cpu"],
        capture_output=True, text=True, env=env, preexec_fn=limit, timeout=300)
    assert video and result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("convlstm-ae: error: ") and "File too large" in lines[-1]
    assert "Traceback" not in result.stderr
    assert list(out.parent.iterdir()) == []  # no CSV, no temporary
