"""Fixtures shared by the unit tests."""

from __future__ import annotations

import functools

import pytest

from leap_rl import leap


@pytest.fixture(params=["host", "device"])
def both_scalar_paths(request, monkeypatch):
    """Runs a test twice: segment scalars worked out on the host, and on the device (here CPU).

    The CPU default is the host path; the device path is what CUDA tensors take, so running it
    on CPU tensors keeps it tested on machines without a GPU.
    """
    on_host = request.param == "host"
    monkeypatch.setattr(request.module, "LeapAccumulator",
                        functools.partial(leap.LeapAccumulator, scalars_on_host=on_host))
    return on_host
