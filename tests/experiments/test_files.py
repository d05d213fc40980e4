"""Experiments as YAML files: the paper's runs under configs/ parse, and a run's own file
names every setting, so that it reruns the same experiment."""

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
