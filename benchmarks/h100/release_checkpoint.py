"""Release the weights of a run's last training checkpoint as its model folder (used when
a run must stop before its planned steps): python release_checkpoint.py RUN_DIR"""

import sys
from pathlib import Path

import torch

from convlstm_ae.config import ModelConfig, ScoringConfig, config_from_dict
from convlstm_ae.model.presets import build_model
from convlstm_ae.release import save_model

run = Path(sys.argv[1])
checkpoint = torch.load(run / "checkpoints/last.ckpt", map_location="cpu", weights_only=True)
hparams = checkpoint["hyper_parameters"]
model = build_model(config_from_dict(ModelConfig, hparams["model"]))
model.load_state_dict({k[len("model."):]: v for k, v in checkpoint["state_dict"].items()})
train = dict(hparams["train"], max_steps=checkpoint["global_step"])
save_model(model, run / "model", ScoringConfig(t_prime=10),
           extra={"train": train, "steps": checkpoint["global_step"]})
print(checkpoint["global_step"])
