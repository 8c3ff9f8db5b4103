"""Component tests train small models in-process."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Small models: intra-op threads only add contention (50× slower on a busy 2-core box)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
