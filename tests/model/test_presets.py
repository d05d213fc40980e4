"""Every preset: shapes, forward and backward (as timm tests its models)."""

import pytest
import torch

from convlstm_ae.errors import ConfigError
from convlstm_ae.model.conv_ae import ConvAE
from convlstm_ae.model.convlstm_ae import ConvLSTMAE, feature_sizes
from convlstm_ae.model.presets import create_model, list_presets, preset_configs

TARGET_SIZE = 48  # capped input side for the big presets on the CPU


def test_paper_feature_sizes_follow_the_paper():
    config, train = preset_configs("paper")
    assert feature_sizes(225, 225, config.encoder_kernels, config.encoder_strides) == [
        (225, 225), (113, 113), (57, 57), (29, 29)
    ]
    assert config.encoder_channels == (128, 256, 512) and config.encoder_kernels == (7, 5, 3)
    assert config.lstm_channels == 512 and config.clip_length == 10
    assert (train.learning_rate, train.batch_size, train.sampling_strides) == (0.01, 4, (1, 2, 3))


def test_caffe_preset_differs_as_released():
    config, train = preset_configs("caffe")
    assert config.encoder_strides == (4, 2, 2)
    assert config.output_activation == "tanh" and config.normalization == "mean_frame"
    assert (train.learning_rate, train.weight_decay, train.batch_size) == (1e-3, 5e-4, 8)


@pytest.mark.parametrize("name", list_presets())
@pytest.mark.parametrize("size", [TARGET_SIZE, TARGET_SIZE + 3])  # even and odd sides
def test_forward_backward_every_preset(name, size):
    torch.manual_seed(0)
    model = create_model(name, frame_size=size, clip_length=3)
    clip = torch.rand(2, 3, 1, size, size)
    if isinstance(model, ConvLSTMAE):
        current, previous, (h, c) = model(clip)
        assert previous.shape == current.shape == clip.shape
        loss = current.square().mean() + previous.square().mean()
    else:
        reconstruction = model(clip)
        assert reconstruction.shape == clip.shape
        loss = reconstruction.square().mean()
    loss.backward()
    for parameter_name, parameter in model.named_parameters():
        assert parameter.grad is not None, f"No gradient for {parameter_name}"


@pytest.mark.parametrize("size", [225, 224, 61])
def test_paper_output_size_equals_input_size(size):
    model = create_model("tiny", frame_size=size, encoder_strides=(2, 2, 2))
    current, _, _ = model(torch.rand(1, 2, 1, size, size))
    assert current.shape[-2:] == (size, size)


def test_step_function_equals_forward():
    torch.manual_seed(0)
    model = create_model("tiny", frame_size=32)
    clip = torch.rand(2, 4, 1, 32, 32)
    current, previous, _ = model(clip)
    state = None
    for t in range(4):
        cur_t, prev_t, state = model.step(clip[:, t], state)
        torch.testing.assert_close(cur_t, current[:, t], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(prev_t, previous[:, t], rtol=1e-4, atol=1e-5)


def test_xavier_init_and_zero_bias():
    model = create_model("tiny")
    conv = model.encoder.layers[0]
    fan_in, fan_out = conv.in_channels * 49, conv.out_channels * 49
    bound = (6 / (fan_in + fan_out)) ** 0.5
    assert conv.weight.abs().max() <= bound
    assert conv.weight.abs().max() > 0.8 * bound
    assert torch.count_nonzero(conv.bias) == 0


def test_tanh_output_of_caffe_preset_is_bounded():
    model = create_model("caffe", frame_size=40)
    current, _, _ = model(torch.rand(1, 2, 1, 40, 40) * 100)
    assert current.abs().max() <= 1


def test_architectures():
    assert isinstance(create_model("conv-ae-tiny"), ConvAE)
    assert isinstance(create_model("tiny"), ConvLSTMAE)


def test_unknown_preset_and_field():
    with pytest.raises(ConfigError, match="preset 'huge' is unknown"):
        create_model("huge")
    with pytest.raises(ConfigError, match="unknown model field 'depth'"):
        create_model("tiny", depth=3)
    with pytest.raises(ConfigError, match="odd"):
        create_model("tiny", encoder_kernels=(7, 4, 3))
