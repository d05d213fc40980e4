"""ConvLSTM against a direct transcription of Eq. (1)."""

import torch
import torch.nn.functional as F

from convlstm_ae.model.convlstm import ConvLSTM, ConvLSTMCell


def eq1_reference(cell: ConvLSTMCell, x, h, c):
    """Eq. (1) written gate by gate with separate weights w_x?, w_h? and biases b_?."""
    wx = cell.input_conv.weight.chunk(4)
    bx = cell.input_conv.bias.chunk(4)
    wh = cell.hidden_conv.weight.chunk(4)
    pad = cell.input_conv.padding

    def gate(k):
        return F.conv2d(x, wx[k], bx[k], padding=pad) + F.conv2d(h, wh[k], padding=pad)

    i, f, o = torch.sigmoid(gate(0)), torch.sigmoid(gate(1)), torch.sigmoid(gate(2))
    c_next = f * c + i * torch.tanh(gate(3))
    return o * torch.tanh(c_next), c_next


def test_cell_matches_eq1():
    torch.manual_seed(0)
    cell = ConvLSTMCell(3, 5, 3)
    x, h, c = torch.randn(2, 3, 6, 7), torch.randn(2, 5, 6, 7), torch.randn(2, 5, 6, 7)
    h_ours, c_ours = cell(x, (h, c))
    h_ref, c_ref = eq1_reference(cell, x, h, c)
    torch.testing.assert_close(h_ours, h_ref)
    torch.testing.assert_close(c_ours, c_ref)


def test_initial_state_is_zero():
    torch.manual_seed(0)
    cell = ConvLSTMCell(2, 4)
    x = torch.randn(1, 2, 5, 5)
    zeros = torch.zeros(1, 4, 5, 5)
    torch.testing.assert_close(cell(x)[0], eq1_reference(cell, x, zeros, zeros)[0])


def test_unrolled_equals_stepped_cell_and_carries_state():
    torch.manual_seed(0)
    lstm = ConvLSTM(3, 4)
    x = torch.randn(2, 6, 3, 5, 5)  # (B, T, C, H, W)
    outputs, (h, c) = lstm(x)
    state = None
    for t in range(6):
        state = lstm.cell(x[:, t], state)
        torch.testing.assert_close(outputs[:, t], state[0])
    torch.testing.assert_close(c, state[1])
    # two halves with the state carried over equal one pass
    first, carried = lstm(x[:, :3])
    second, _ = lstm(x[:, 3:], carried)
    torch.testing.assert_close(torch.cat([first, second], 1), outputs)


def test_hidden_conv_has_no_bias_eq1_has_one_bias_per_gate():
    cell = ConvLSTMCell(3, 4)
    assert cell.hidden_conv.bias is None
    assert cell.input_conv.bias.shape == (16,)
