"""The GPU fast path computes the same function as the plain path (fp32, on the CPU)."""

import copy

import torch

from convlstm_ae.model.acceleration import accelerate, is_accelerated, use_fast_path
from convlstm_ae.model.presets import create_model
from convlstm_ae.training.loss import reconstruction_loss


def test_fast_path_gives_the_plain_loss_gradients_and_state():
    torch.manual_seed(0)
    plain = create_model("tiny", frame_size=33)
    fast = accelerate(copy.deepcopy(plain))  # channels-last and the compiled gate kernel
    assert is_accelerated(fast) and not is_accelerated(plain)
    assert fast.convlstm.cell.pointwise is not plain.convlstm.cell.pointwise
    clip = plain.normalize(torch.randint(0, 256, (2, 6, 1, 33, 33), dtype=torch.uint8))
    results = []
    for model in (plain, fast):
        model.zero_grad()
        current, previous, (h, c) = model(clip)
        loss = reconstruction_loss(clip, current, previous)
        loss.backward()
        grads = {name: p.grad.clone() for name, p in model.named_parameters()}
        results.append((loss.detach(), h.detach(), c.detach(), grads))
    (loss_p, h_p, c_p, grads_p), (loss_f, h_f, c_f, grads_f) = results
    torch.testing.assert_close(loss_f, loss_p, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(h_f, h_p, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(c_f, c_p, rtol=1e-5, atol=1e-6)
    for name, grad in grads_p.items():
        torch.testing.assert_close(grads_f[name], grad, rtol=1e-4, atol=1e-5, msg=name)


def test_accelerate_keeps_parameter_identity_for_the_optimizer():
    model = create_model("tiny", frame_size=33)
    before = [id(p) for p in model.parameters()]
    accelerate(model, fuse=False)
    assert [id(p) for p in model.parameters()] == before
    conv = model.encoder.layers[2].weight
    assert conv.is_contiguous(memory_format=torch.channels_last)


def test_fast_path_only_on_cuda_and_not_when_plain():
    assert not use_fast_path("cpu")
    assert use_fast_path("cuda")
    assert not use_fast_path("cuda", plain=True)


def test_compiled_training_loss_gives_the_plain_loss_and_gradients():
    from convlstm_ae.model.presets import preset_configs
    from convlstm_ae.training.module import ReconstructionModule

    model_config, train_config = preset_configs("tiny", frame_size=33, clip_length=4)
    torch.manual_seed(0)
    plain = ReconstructionModule.from_configs(model_config, train_config)
    fast = copy.deepcopy(plain)
    fast.enable_fast_path()  # what setup() does on a GPU: channels-last + compiled loss
    frames = torch.randint(0, 256, (2, 4, 1, 33, 33), dtype=torch.uint8)
    losses, grads = [], []
    for module in (plain, fast):
        loss = module.loss(frames)
        loss.backward()
        losses.append(loss.detach())
        grads.append({name: p.grad for name, p in module.model.named_parameters()})
    torch.testing.assert_close(losses[1], losses[0], rtol=1e-5, atol=1e-5)
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, rtol=1e-4, atol=1e-5, msg=name)
