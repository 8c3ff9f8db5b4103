"""Cheap start-up: the CLI imports no heavy library before it has read and checked its input.

Each check runs in a fresh interpreter, since this test process has imported torch already.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "gymnasium", "ale_py", "scipy", "ray")


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                         text=True).stdout
    return set(out.split())


@pytest.mark.parametrize("module", ["leap_rl.cli", "leap_rl.config", "leap_rl.envs",
                                    "leap_rl.agent"])
def test_importing_loads_no_heavy_library(module):
    assert _loaded_after(f"import {module}") == set()


def test_loading_a_config_imports_neither_torch_nor_ray():
    # Checking the pool's game names needs ale-py's ROM list (ale-py imports gymnasium); a
    # worker or the CLI pays for torch only when it builds a model.
    loaded = _loaded_after("from leap_rl.config import load_config\nload_config(None)")
    assert "torch" not in loaded and "ray" not in loaded
