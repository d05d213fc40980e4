"""Writes tests/golden/errors.json: the per-frame errors test_golden.py pins. Run it only
when a change is meant to alter the errors, and say so in the commit."""

import json
from pathlib import Path

from test_golden import golden_errors

path = Path(__file__).with_name("errors.json")
path.write_text(json.dumps(golden_errors(), indent=1) + "\n")
print(f"wrote {path}")
