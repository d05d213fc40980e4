"""Released models: safetensors + config.json round trip, and files that are not ours."""

import json
import os
import stat

import pytest
import torch
from safetensors.torch import save_file

from convlstm_ae.atomic import atomic_path
from convlstm_ae.config import ScoringConfig
from convlstm_ae.errors import CheckpointError
from convlstm_ae.model.presets import create_model
from convlstm_ae.release import load_model, save_model
from convlstm_ae.release_files import (
    load_frame_rate,
    load_scoring_config,
    read_model_config,
    write_model_config,
)


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = create_model("caffe", frame_size=32, encoder_channels=(4, 8, 8), lstm_channels=8)
    model.mean_frame.fill_(0.25)
    save_model(model, tmp_path / "m", ScoringConfig(t_prime=None, patch_size=5))
    return model, tmp_path / "m"


def test_round_trip_gives_the_same_outputs(saved):
    model, folder = saved
    loaded = load_model(folder)
    assert loaded.config == model.config
    clip = torch.rand(1, 3, 1, 32, 32)
    torch.testing.assert_close(loaded(clip)[0], model.eval()(clip)[0])
    torch.testing.assert_close(loaded.mean_frame, torch.full((1, 32, 32), 0.25))
    assert load_scoring_config(folder) == ScoringConfig(t_prime=None, patch_size=5)
    assert not list(folder.glob(".*tmp"))


@pytest.mark.parametrize(("recorded", "expected"), [({}, None), ({"frame_rate": None}, None),
                                                    ({"frame_rate": 10}, 10.0)])
def test_a_model_records_its_frame_rate_or_none_and_loads_either_way(saved, recorded, expected):
    """A model released before the frame rate was recorded loads, its rate unknown."""
    _, folder = saved
    config = read_model_config(folder)
    config.pop("frame_rate", None)
    write_model_config(folder, config | recorded)
    assert load_frame_rate(folder) == expected
    assert load_model(folder).config.preset == "caffe"


@pytest.mark.parametrize("bad", [0, -10, "10", True, float("inf")])
def test_a_recorded_frame_rate_that_is_no_rate_is_refused(saved, bad):
    _, folder = saved
    write_model_config(folder, read_model_config(folder) | {"frame_rate": bad})
    with pytest.raises(CheckpointError, match="frame_rate must be a positive number"):
        load_frame_rate(folder)


def test_loading_the_weights_file_path_works(saved):
    _, folder = saved
    assert load_model(folder / "model.safetensors").config.preset == "caffe"


def test_missing_folder(tmp_path):
    with pytest.raises(CheckpointError, match="config.json: not found"):
        load_model(tmp_path)


def test_config_that_is_not_ours(saved):
    _, folder = saved
    (folder / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}))
    with pytest.raises(CheckpointError, match="not a convlstm-ae model config"):
        load_model(folder)


@pytest.mark.parametrize(("sizes", "problem"), [
    ({"lstm_channels": 2_000_000}, "lstm_channels must be a whole number in [1, 8,192]"),
    ({"encoder_channels": [4, 8, 8.5]}, "encoder_channels must be a whole number"),
    ({"frame_size": True}, "frame_size must be a whole number"),
    ({"lstm_channels": 8000, "lstm_kernel": 31}, "parameters; at most 1,000,000,000"),
])
def test_a_config_asking_for_a_huge_model_is_refused_before_allocating(saved, sizes, problem):
    """2,000,000 ConvLSTM channels would ask for hundreds of terabytes."""
    _, folder = saved
    config = json.loads((folder / "config.json").read_text())
    config["model"].update(sizes)
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError) as error:
        load_model(folder)
    assert str(error.value).startswith(f"{folder / 'config.json'}: ")
    assert problem in str(error.value) and "\n" not in str(error.value)


def test_corrupt_weights(saved):
    _, folder = saved
    (folder / "model.safetensors").write_bytes(b"\x80\x04garbage that is a pickle maybe")
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_model(folder)


def test_weights_holding_nan_name_the_tensor(saved):
    model, folder = saved
    state = {k: v.clone() for k, v in model.state_dict().items()}
    name = next(k for k, v in state.items() if v.is_floating_point() and v.numel() > 1)
    state[name].view(-1)[1] = float("nan")
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match=f"tensor '{name}' holds NaN or infinite"):
        load_model(folder)


def test_weights_of_another_architecture(saved, tmp_path):
    _, folder = saved
    save_model(create_model("tiny"), tmp_path / "other")
    (folder / "model.safetensors").write_bytes((tmp_path / "other/model.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match="do not match"):
        load_model(folder)


def test_released_files_get_the_umask_mode(tmp_path):
    """A service account must read a model trained by another user: 0644 under umask 022,
    though safetensors writes its (temporary) file 0600."""
    old = os.umask(0o022)
    try:
        model = create_model("tiny")
        save_model(model, tmp_path / "m", ScoringConfig())
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "m").iterdir()}
    assert modes == {"model.safetensors": 0o644, "config.json": 0o644}


def test_a_replaced_file_keeps_its_mode(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("old")
    path.chmod(0o600)
    with atomic_path(path) as temporary:
        temporary.write_text("new")
    assert path.read_text() == "new" and stat.S_IMODE(path.stat().st_mode) == 0o600
