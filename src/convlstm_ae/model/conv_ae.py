"""Conv-AE baseline of Hasan et al., "Learning temporal regularity in video sequences"
(CVPR 2016), the paper's [9]: T frames stacked as channels, reconstructed as a cuboid.
"""

from __future__ import annotations

from torch import Tensor, nn

from convlstm_ae.config import ModelConfig
from convlstm_ae.model.convlstm_ae import FrameModel, reset_parameters


class ConvAE(FrameModel):
    """conv 512 11x11/4, pool, conv 256 5x5, pool, conv 128 3x3, and the mirror back.

    Channel counts, kernels and the first stride come from ``config.encoder_*``; max
    pooling (2x2) follows the first two convolutions and is undone by max unpooling.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        frames = config.clip_length * config.in_channels
        channels = config.encoder_channels
        kernels = config.encoder_kernels
        strides = config.encoder_strides
        self.convs = nn.ModuleList()
        in_channels = frames
        for out_channels, kernel, stride in zip(channels, kernels, strides, strict=True):
            self.convs.append(nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2))
            in_channels = out_channels
        self.deconvs = nn.ModuleList()
        for out_channels, kernel, stride in zip(
            (*channels[:-1][::-1], frames), kernels[::-1], strides[::-1], strict=True
        ):
            self.deconvs.append(
                nn.ConvTranspose2d(in_channels, out_channels, kernel, stride, kernel // 2)
            )
            in_channels = out_channels
        self.pool = nn.MaxPool2d(2, 2, return_indices=True)
        self.unpool = nn.MaxUnpool2d(2, 2)
        self.output = nn.Tanh() if config.output_activation == "tanh" else nn.Identity()
        reset_parameters(self)

    def forward(self, clip: Tensor) -> Tensor:
        """Reconstruct a clip: normalised (B, T, C, H, W) -> (B, T, C, H, W)."""
        b, t, c, height, width = clip.shape
        x = clip.reshape(b, t * c, height, width)  # frames stacked as channels
        x = x.contiguous(memory_format=self.memory_format)
        # per encoder layer: its input size, and the pooling it was followed by (if any)
        skips: list[tuple[tuple[int, int], tuple[Tensor, tuple[int, int]] | None]] = []
        last = len(self.convs) - 1
        for index, conv in enumerate(self.convs):
            in_size = (x.shape[-2], x.shape[-1])
            x = conv(x).relu()
            pooling = None
            if index < last:
                pre_pool = (x.shape[-2], x.shape[-1])
                x, indices = self.pool(x)
                pooling = (indices, pre_pool)
            skips.append((in_size, pooling))
        for index, deconv in enumerate(self.deconvs):
            in_size, pooling = skips[last - index]
            if pooling is not None:
                indices, pre_pool = pooling
                x = self.unpool(x, indices, output_size=pre_pool)
            x = deconv(x, output_size=in_size)
            x = x.relu() if index < last else self.output(x)
        return x.reshape(b, t, c, height, width)

