"""Experiments as YAML files: the paper's runs under configs/ parse, and a run's own file
names every setting, so that it reruns the same experiment."""

import re
from pathlib import Path

import pytest
import yaml

from convlstm_ae.cli import main
from convlstm_ae.errors import ConfigError
from convlstm_ae.experiments.files import EXPERIMENT_FILE, experiment_to_yaml, read_experiment

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "paper"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_paper_configs_parse_and_name_every_setting(path):
    kind, experiment = read_experiment(path)
    assert yaml.safe_load(experiment_to_yaml(kind, experiment)) == yaml.safe_load(path.read_text())


def test_unknown_settings_and_experiments_name_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("experiment: ped2\nroot: x\nbatch: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown setting 'batch'"):
        read_experiment(path)
    path.write_text("experiment: ped9\n")
    with pytest.raises(ConfigError, match="bad.yaml: experiment 'ped9' is unknown"):
        read_experiment(path)


@pytest.mark.parametrize(("setting", "problem"), [
    ("train: {max_steps: 1.0e+23}", "max_steps must be a whole number in [1, 10,000,000]"),
    ("train: {max_steps: true}", "max_steps must be a whole number"),
    ("num_train: 1.0e+15", "num_train must be of type int"),
    ("num_train: 1000000000000000", "num_train must be a whole number in [1, 1,000,000]"),
    ("score_batch: 1000000000000", "score_batch must be a whole number"),
    ("t_prime: 99999999999999999999", "t_prime must be a whole number of frames"),
    ("devices: true", "devices must be of type int"),
    ("plain: 1", "plain must be of type bool"),
    ("seed: 1.5", "seed must be of type int"),
    ("presets: [tiny, nosuch]", "preset 'nosuch' is unknown"),
])
def test_out_of_range_or_mistyped_settings_name_the_file_before_any_work(
        tmp_path, setting, problem):
    """YAML types are strict (a bool is no count) and sizes have ceilings, checked before
    sequences are drawn or memory allocated."""
    path = tmp_path / "bad.yaml"
    path.write_text(f"experiment: moving-mnist\nout_dir: {tmp_path / 'run'}\n{setting}\n")
    with pytest.raises(ConfigError, match=f"bad.yaml: {re.escape(problem)}"):
        read_experiment(path)
    assert not (tmp_path / "run").exists()


def test_a_real_dataset_experiment_checks_its_calibration_settings(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("experiment: ped2\nroot: x\nquantile: .nan\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: quantile must lie in \(0, 1\)"):
        read_experiment(path)


def test_a_run_writes_the_file_that_reruns_it(tmp_path, idx_file):
    out = tmp_path / "run"
    code = main(["experiment", "moving-mnist", "--out", str(out), "--presets", "tiny",
                 "--num-train", "20", "--num-test", "4", "--max-steps", "2", "--num-workers",
                 "0", "--batch-size", "2", "--idx-path", str(idx_file), "--stage", "train"])
    assert code == 0
    written = out / EXPERIMENT_FILE
    kind, experiment = read_experiment(written)
    assert kind == "moving-mnist" and experiment.presets == ("tiny",)
    assert experiment.train == {"max_steps": 2, "batch_size": 2, "num_workers": 0, "seed": 0}
    assert main(["experiment", "--config", str(written)]) == 0  # trained already: nothing to do
    assert read_experiment(written)[1] == experiment
