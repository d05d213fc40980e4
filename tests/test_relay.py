"""benchmarks/h100/relay.sh carries a training checkpoint between GPU machines in parts:
the joined file must equal the original, and a damaged or missing part must stop it."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

RELAY = Path(__file__).parents[1] / "benchmarks" / "h100" / "relay.sh"
PART_BYTES = 1000

pytestmark = pytest.mark.skipif(shutil.which("sha256sum") is None or shutil.which("split") is None,
                                reason="relay.sh needs coreutils' split and sha256sum")


def relay(cwd: Path, *args: str, keep: Path,
          out: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "KEEP": str(keep), "PART_BYTES": str(PART_BYTES),
           **({"OUT": str(out)} if out else {})}
    return subprocess.run(["bash", str(RELAY), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, check=False)


def send_all(tmp_path: Path, checkpoint: Path, per_call: int) -> Path:
    """Run ``out`` call by call, as on the old machine, gathering what each call returns
    into ``gpu_data/relay`` of a checkout, as here."""
    received = tmp_path / "checkout" / "gpu_data" / "relay"
    received.mkdir(parents=True)
    first = 0
    while True:
        out = tmp_path / f"out_{first}"
        out.mkdir()
        result = relay(tmp_path, "out", str(checkpoint), str(first), str(per_call),
                       keep=tmp_path / "old", out=out)
        assert result.returncode == 0, result.stderr
        sent = sorted(out.glob("part.*"))
        if not sent:
            return received
        for path in out.iterdir():
            shutil.copy(path, received)
        first += per_call


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "last.ckpt"
    path.write_bytes(os.urandom(4 * PART_BYTES + 123))
    return path


def test_parts_join_into_the_same_checkpoint(tmp_path: Path, checkpoint: Path) -> None:
    received = send_all(tmp_path, checkpoint, per_call=2)
    assert len(list(received.glob("part.*"))) == 5
    joined = tmp_path / "new" / "runs" / "last.ckpt"
    result = relay(received.parents[1], "in", str(joined), keep=tmp_path / "new")
    assert result.returncode == 0, result.stderr
    assert joined.read_bytes() == checkpoint.read_bytes()


def test_a_missing_part_waits_and_writes_nothing(tmp_path: Path, checkpoint: Path) -> None:
    received = send_all(tmp_path, checkpoint, per_call=2)
    (received / "part.03").unlink()
    joined = tmp_path / "new" / "last.ckpt"
    result = relay(received.parents[1], "in", str(joined), keep=tmp_path / "new")
    assert result.returncode == 0
    assert "waiting for: part.03" in result.stdout
    assert not joined.exists()


def test_a_damaged_part_is_refused(tmp_path: Path, checkpoint: Path) -> None:
    received = send_all(tmp_path, checkpoint, per_call=5)
    damaged = bytearray((received / "part.02").read_bytes())
    damaged[10] ^= 0xFF
    (received / "part.02").write_bytes(bytes(damaged))
    joined = tmp_path / "new" / "last.ckpt"
    result = relay(received.parents[1], "in", str(joined), keep=tmp_path / "new")
    assert result.returncode != 0
    assert "part.02: FAILED" in result.stdout + result.stderr
    assert not joined.exists()
