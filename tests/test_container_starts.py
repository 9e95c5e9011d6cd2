"""Every container swegc starts goes through the sandbox (limits, names, cleanup in one place)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("swegc", "compiler", "images", "runtime", "train", "hub")
SANDBOX = ROOT / "runtime" / "sandbox"
START = re.compile(r"\.containers\.(create|run)\(|\.create_container\(")


def test_no_module_outside_the_sandbox_starts_a_container_with_the_docker_sdk():
    starts = [f"{path.relative_to(ROOT)}:{number}"
              for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
              if SANDBOX not in path.parents
              for number, line in enumerate(path.read_text().splitlines(), 1) if START.search(line)]
    assert starts == []
    assert any(START.search(path.read_text()) for path in SANDBOX.glob("*.py"))  # the pattern finds them
