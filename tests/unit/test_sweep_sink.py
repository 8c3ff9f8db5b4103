"""What a meta-training trial reports to Tune (no Ray): the validation metric arrives in scalars
of its own after its meta-step's, and is reported at that meta-step."""

from leap_rl.sweep.trial import TuneSink

METRIC = "validation/gain"


def test_a_scheduled_sink_reports_only_measurements_at_the_meta_step_before_them():
    got = []
    sink = TuneSink(METRIC, got.append, always=False)
    sink.scalars({"charts/episodic_return": 1.0}, 10)   # an episode curve's point
    sink.scalars({"workers/meta_step": 1, "objective/d1": 3.0}, 100)
    sink.scalars({METRIC: 0.5, "validation/Pong/gain": 0.5}, 100)
    sink.scalars({"workers/meta_step": 2}, 200)           # no validation after meta-step 2
    assert got == [{"meta_step": 1, "agent_steps": 100, METRIC: 0.5}]


def test_an_unscheduled_sink_reports_every_meta_step():
    got = []
    sink = TuneSink(METRIC, got.append, always=True)
    sink.scalars({"workers/meta_step": 1}, 100)
    sink.scalars({"workers/meta_step": 2}, 200)
    assert [r["meta_step"] for r in got] == [1, 2] and METRIC not in got[0]
