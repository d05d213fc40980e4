"""Eq. (2) and the Conv-AE loss on hand-computed cases."""

import torch

from convlstm_ae.training.loss import clip_reconstruction_loss, reconstruction_loss


def test_eq2_hand_computed():
    # one clip of T = 3 one-pixel frames X = (1, 2, 3)
    clip = torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1, 1)
    current = torch.tensor([1.0, 1.0, 1.0]).view(1, 3, 1, 1, 1)  # errors 0, 1, 2
    previous = torch.tensor([9.0, 0.0, 0.0]).view(1, 3, 1, 1, 1)  # t=1 ignored; targets X1=1, X2=2
    # 1/2 * [(0 + 1 + 4) + (1 + 4)] = 5
    assert reconstruction_loss(clip, current, previous).item() == 5.0


def test_eq2_first_previous_output_is_ignored_and_batch_averaged():
    clip = torch.zeros(2, 2, 1, 2, 2)
    current = torch.zeros_like(clip)
    previous = torch.zeros_like(clip)
    previous[:, 0] = 100.0  # no target at t = 1
    assert reconstruction_loss(clip, current, previous).item() == 0.0
    current[0, 1] = 1.0  # 4 pixels of error 1 in one of two clips -> 1/2 * 4 / 2 = 1
    assert reconstruction_loss(clip, current, previous).item() == 1.0


def test_conv_ae_loss():
    clip = torch.zeros(2, 3, 1, 2, 2)
    reconstruction = torch.ones_like(clip)  # 2 * 12 pixels of error 1 -> 1/2 * 24 / 2 = 6
    assert clip_reconstruction_loss(clip, reconstruction).item() == 6.0
