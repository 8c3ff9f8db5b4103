"""What a run writes and where: run directories on disk or in a bucket
(:mod:`leap_rl.io.storage`), atomic, verified artifacts such as ``init/encoder.pt``
(:mod:`leap_rl.io.artifacts`) and scalar sinks beside TensorBoard (:mod:`leap_rl.io.tracking`)."""
