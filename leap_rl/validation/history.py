"""validation.jsonl, the best validation so far, and patience.

One line per validation: ``meta_step`` (the meta-steps θ⁰ had taken), per game the AUC of every
seed from θ⁰ (``init``) and from a random θ⁰ (``random``), the gain and its parts
(:mod:`leap_rl.validation.metric`), ``gain`` (the mean over games), and how many baseline runs
were computed or came from the cache. A resumed run keeps the lines of the meta-steps its
checkpoint holds and drops later ones (they are done again), as tasks.jsonl does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from leap_rl.io.storage import RunPath, append_text

FILE = "validation.jsonl"


def read_records(out: RunPath) -> list[dict]:
    """validation.jsonl's records as they are on disk, read only ([] without the file)."""
    path = out / FILE
    text = path.read_text() if path.is_file() else ""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@dataclass
class ValidationHistory:
    """The validations of a run, read back on resume; the best gain and patience's count."""

    out: RunPath
    patience: int | None = None
    records: list[dict] = field(default_factory=list)
    best_gain: float | None = None
    best_meta_step: int | None = None
    since_best: int = 0  # validations after the best (all of them while there is none)

    @property
    def path(self) -> RunPath:
        return self.out / FILE

    def load(self, completed: int) -> None:
        """Reads validation.jsonl; keeps (and rewrites the file with) only the validations of
        the first ``completed`` meta-steps."""
        rows = read_records(self.out)
        self.records, self.best_gain, self.best_meta_step, self.since_best = [], None, None, 0
        for row in rows:
            if row["meta_step"] <= completed:
                self._count(row)
        if self.path.is_file() or self.records:
            self.path.write_text("".join(json.dumps(r) + "\n" for r in self.records))

    def add(self, record: dict) -> bool:
        """Appends a validation; True when its gain is a new best."""
        improved = self._count(record)
        record = {**record, "best": improved, "best_gain": self.best_gain,
                  "best_meta_step": self.best_meta_step}
        self.records[-1] = record
        append_text(self.path, json.dumps(record) + "\n")
        return improved

    def _count(self, record: dict) -> bool:
        self.records.append(record)
        gain = record.get("gain")
        if gain is not None and (self.best_gain is None or gain > self.best_gain):
            self.best_gain, self.best_meta_step, self.since_best = gain, record["meta_step"], 0
            return True
        self.since_best += 1
        return False

    @property
    def exhausted(self) -> bool:
        """Whether patience has run out: ``patience`` validations in a row without a new best."""
        return self.patience is not None and self.since_best >= self.patience
