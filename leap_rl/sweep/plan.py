"""What ``leap-rl sweep`` will do, decided before Ray starts: the spec, every trial's validated
config, the sweep directory (new, or resumed with the same spec), and which trials still run.

The sweep directory keeps the spec as it was given (``spec.yaml``: the spec with its base made
absolute, and the ``--set`` overrides), so that ``--resume DIR`` rebuilds exactly the same trials
and refuses a spec that differs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from leap_rl.io.storage import RunPath, location
from leap_rl.sweep.spec import Spec, SweepError, parse_spec, read_spec
from leap_rl.sweep.status import needs_run, read_status
from leap_rl.sweep.trials import Trial, agent_steps, build_trials

SPEC = "spec.yaml"


@dataclass
class SweepPlan:
    """A sweep's trials, where they go, and which of them this command runs."""

    spec: Spec
    trials: list[Trial]
    out: RunPath
    stored: dict[str, Any]
    resume: bool = False
    statuses: dict[str, dict] = field(default_factory=dict)
    to_run: list[Trial] = field(default_factory=list)

    def describe(self) -> str:
        """The trials with their settings and the projected agent steps of the study."""
        lines = [f"sweep {self.out}: {len(self.trials)} trial(s) of kind {self.spec.kind}, "
                 f"base {self.spec.base}" + (f", folds {self.spec.folds}" if self.spec.folds
                                             else "")]
        for t in self.trials:
            state = self.statuses.get(t.name, {}).get("status", "pending")
            lines.append(f"  {t.name:<44} {agent_steps(t):>14,} agent steps  {state}")
        total = sum(agent_steps(t) for t in self.trials)
        left = sum(agent_steps(t) for t in self.to_run)
        lines.append(f"projected: {total:,} agent steps in all, {left:,} in the "
                     f"{len(self.to_run)} trial(s) to run")
        return "\n".join(lines)


def stored_spec(spec_path: str | Path, overrides: list[str]) -> dict[str, Any]:
    """The spec as ``spec.yaml`` keeps it: its base absolute, with the ``--set`` overrides."""
    spec = read_spec(spec_path)
    data = {**spec.data, "base": str(spec.base.resolve())}
    return {"spec": data, "overrides": list(overrides)}


def plan_sweep(spec_path: str | None, out: str | None, overrides: list[str], *,
               resume: str | None = None, retry_failed: int = 1) -> SweepPlan:
    """The plan of a new sweep (``spec_path``, ``out``) or a resumed one (``resume``); raises
    :class:`SweepError` for any problem, writes nothing."""
    if bool(out) == bool(resume):
        raise SweepError("leap-rl sweep", ["give SPEC --out DIR for a new sweep or --resume DIR "
                                           "to finish one, not both"])
    target = location(resume or out)
    if resume:
        stored = _resume_spec(target, spec_path, overrides)
    else:
        if spec_path is None:
            raise SweepError("leap-rl sweep", ["a new sweep needs SPEC"])
        if target.is_dir() and any(target.iterdir()):
            raise SweepError(str(target), [f"--out {target} already holds files; finish that "
                                           f"sweep with --resume {target} or choose another DIR"])
        stored = stored_spec(spec_path, overrides)
    spec = parse_spec(stored["spec"], str(spec_path or target / SPEC))
    trials = build_trials(spec, stored["overrides"], str(spec_path or target / SPEC))
    plan = SweepPlan(spec, trials, target, stored, resume=bool(resume))
    plan.statuses = {t.name: read_status(target / "trials" / t.name) for t in trials}
    plan.to_run = [t for t in trials if needs_run(plan.statuses[t.name], retry_failed)]
    return plan


def _resume_spec(target: RunPath, spec_path: str | None, overrides: list[str]) -> dict:
    if not (target / SPEC).is_file():
        raise SweepError(str(target), [f"--resume {target}: no {SPEC} there (not a sweep "
                                       "directory)"])
    stored = yaml.safe_load((target / SPEC).read_text())
    if spec_path is None and not overrides:
        return stored
    given = (stored_spec(spec_path, overrides) if spec_path is not None
             else {**stored, "overrides": list(overrides)})
    differences = _differences(stored, given)
    if differences:
        raise SweepError(str(target), [f"--resume: the spec differs from {target / SPEC}: {d}"
                                       for d in differences])
    return stored


def _differences(was: Any, now: Any, key: str = "") -> list[str]:
    """Every dotted key whose value differs between the stored and the given spec."""
    if isinstance(was, dict) and isinstance(now, dict):
        return [d for k in sorted(was.keys() | now.keys(), key=str)
                for d in _differences(was.get(k), now.get(k), f"{key}.{k}" if key else str(k))]
    return [] if was == now else [f"{key}: stored {was!r}, given {now!r}"]


def write_spec(plan: SweepPlan) -> None:
    """The sweep directory and its ``spec.yaml`` (a new sweep only)."""
    plan.out.mkdir(parents=True, exist_ok=True)
    if not plan.resume:
        (plan.out / SPEC).write_text(yaml.safe_dump(plan.stored, sort_keys=False))
