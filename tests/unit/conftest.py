"""Fixtures shared by the unit tests."""

from __future__ import annotations

import functools

import pytest
import torch

from leap_rl.core import leap


@pytest.fixture(params=["host-1-thread", "host-2-threads", "device"])
def both_scalar_paths(request, monkeypatch):
    """Runs a test with the segment scalars on the host (one and two torch threads: the sum is
    updated differently) and on the device (here the CPU).

    The CPU default is the host path; the device path is what CUDA tensors take, so running it
    on CPU tensors keeps it tested on machines without a GPU.
    """
    on_host = request.param.startswith("host")
    monkeypatch.setattr(request.module, "LeapAccumulator",
                        functools.partial(leap.LeapAccumulator, scalars_on_host=on_host))
    threads = torch.get_num_threads()
    torch.set_num_threads(2 if request.param == "host-2-threads" else 1)
    yield on_host
    torch.set_num_threads(threads)
