"""setup.cfg's dependency floors admit no release that lacks an API the code calls."""

import configparser
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

SETUP_CFG = Path(__file__).parents[2] / "setup.cfg"


def _install_requires() -> dict[str, Requirement]:
    parser = configparser.ConfigParser()
    parser.read(SETUP_CFG)
    lines = parser["options"]["install_requires"].splitlines()
    requirements = [Requirement(line) for line in lines if line and not line.startswith("#")]
    return {r.name: r for r in requirements}


@pytest.mark.parametrize("name,too_old,first_good,why", [
    # leap_rl/envs/atari.py: AtariVectorEnv(grayscale=False, autoreset_mode=SAME_STEP); 0.11.0's
    # native vector env takes neither (grayscale frames only, next-step autoreset only).
    ("ale-py", "0.11.0", "0.11.1", "the native vector env's RGB frames and autoreset mode"),
    # gymnasium.vector.AutoresetMode and SyncVectorEnv(autoreset_mode=...) arrived in 1.1.
    ("gymnasium", "1.0.0", "1.1.0", "gymnasium.vector.AutoresetMode"),
])
def test_dependency_floors_match_the_apis_used(name, too_old, first_good, why):
    specifier = _install_requires()[name].specifier
    assert not specifier.contains(too_old), f"{name} {too_old} lacks {why}"
    assert specifier.contains(first_good)
    assert specifier.contains(version(name))  # the tests run against an admitted release
