"""Rebuild a released model folder from what benchmarks/h200/live_score.sh brought back:
its records (runs.tgz, unpacked) and its weights as float16 parts (weights16.part*).

    python benchmarks/h200/join_weights.py RESULTS_DIR MODEL_DIR

MODEL_DIR (the unpacked runs/PRESET/model, config and calibration) gets model.safetensors
in float32, rounded once to float16 on the way: scores differ from the GPU run's in the
fourth digit.
"""

import sys
from pathlib import Path

from safetensors.torch import load, save_file


def main(results: Path, model_dir: Path) -> None:
    parts = sorted(results.glob("weights16.part*"))
    if not parts:
        sys.exit(f"{results}: no weights16.part* files")
    tensors = load(b"".join(part.read_bytes() for part in parts))
    save_file({name: value.float() for name, value in tensors.items()},
              model_dir / "model.safetensors")
    print(f"{len(tensors)} tensors from {len(parts)} parts -> {model_dir / 'model.safetensors'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
