"""The pool pilot's measures of a single-task run (docs/results.md): AUC of the 50-episode
moving average, its final value, and the encoder's drift."""

import io

import pytest
import torch

from leap_rl.agent.a2c import TrainReport
from leap_rl.backends.a2c_task import TaskLog, _pilot_measures


def report(step, returns):
    return TrainReport(agent_steps=step, updates=1, episodes=[(r, 10) for r in returns],
                       policy_loss=0.0, value_loss=0.0, entropy=0.0, steps_per_second=1.0)


class Encoderless(torch.nn.Module):
    def __init__(self, weight):
        super().__init__()
        self.encoder = torch.nn.Linear(2, 1, bias=False)
        self.encoder.weight.data[:] = torch.tensor(weight)


def test_auc_averages_the_50_episode_window_at_each_report_zero_before_any_episode(tmp_path):
    log = TaskLog(tmp_path, "g", 300, io.StringIO())
    for step, returns in ((100, []), (200, [1.0, 3.0]), (300, [0.0] * 48 + [10.0])):
        log.report(report(step, returns))
    log.close()
    last = (3.0 + 10.0) / 50  # the window holds the last 50 returns: 3, 48 zeros, 10
    measures = _pilot_measures(log, {"encoder.weight": torch.zeros(1, 2)}, Encoderless([3, 4]))
    assert log.curve == [0.0, 2.0, pytest.approx(last)]
    assert measures["auc"] == pytest.approx((0.0 + 2.0 + last) / 3)
    assert measures["final_return"] == pytest.approx(last)
    assert measures["encoder_drift"] == {"encoder.weight": pytest.approx((12.5) ** 0.5)}
