"""docs/reliability.md names, for each row, a test that exists."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_test_the_reliability_table_names_exists():
    text = (ROOT / "docs" / "reliability.md").read_text()
    named = {name for name in re.findall(r"\b(test_\w+)(?!\w|\.py)", text)
             if not name.endswith("_")}  # not file names, not patterns such as test_read_*
    defined = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)", path.read_text(), re.M))
    assert named and named <= defined, sorted(named - defined)
