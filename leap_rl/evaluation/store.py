"""An evaluation directory as the record of what is done: one file per finished run, resumable.

Layout of ``--out DIR``:

- ``evaluation.json``: the settings that define the experiment (run-methods and their inits'
  kinds, paths and SHA-256, each method's own ``inner.*`` overrides, meta-seed groups, games,
  seeds — from ``--first-seed`` on —, agent steps, config), the interval method (``ci``, not
  compared on resume: it changes the report, not the runs), the moving-average window, and every
  run's record (status, agent steps, episodes, seconds, attempts, error) without its curve.
- ``runs/<game>/<method>/seed-<s>.json``: one finished run — completed or failed — with its
  curve, written atomically the moment the run finishes. These files are the ground truth: an
  interrupted evaluation loses at most the runs that were in flight.
- ``curves.csv``: every completed run's episodes, rebuilt from the run files after each run.

``leap-rl evaluate ... --out DIR --resume`` reads the run files, skips the completed runs and
trains the rest (failed runs again too). It refuses settings that differ from the directory's,
except ``workers.*``, which says where and how runs are scheduled, not what they compute.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from leap_rl.config import ExperimentConfig
from leap_rl.evaluation.methods import Method, from_paths, groups, run_methods
from leap_rl.evaluation.report import read_metadata, write_curves
from leap_rl.evaluation.stats import RunKey
from leap_rl.io.artifacts import ArtifactError, atomic_write
from leap_rl.io.storage import location

FORMAT = "leap-rl/evaluation"
VERSION = 2
UNCOMPARED = ("workers",)  # config sections a resume may change
MAX_LISTED = 8  # differing config keys named in a refusal


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with location(path).open("rb") as handle:  # an init may lie in a bucket (s3://…)
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def make_settings(methods: Sequence[Method] | Mapping[str, str | Path], games: Sequence[str],
                  seeds: Sequence[int], steps: int, cfg: ExperimentConfig,
                  ci: str = "percentile") -> dict[str, Any]:
    """What defines the evaluation's runs; a resume must match it (see the module docstring).

    ``methods``: :class:`Method`s (random last), or today's {name: encoder.pt}."""
    methods = from_paths(methods) if isinstance(methods, Mapping) else list(methods)
    inits = {member: {"path": str(path), "sha256": sha256(path), "kind": m.kind}
             for m in methods for member, path in m.member_paths().items()}
    return {"methods": run_methods(methods), "inits": inits, "groups": groups(methods),
            "overrides": {m.name: list(m.overrides) for m in methods if m.overrides},
            "games": list(games), "seeds": list(seeds), "steps": steps, "ci": ci,
            "config": cfg.model_dump(mode="json")}


def check_out(out: Path, settings: Mapping[str, Any] | None = None, resume: bool = False) -> bool:
    """Whether ``out`` holds an evaluation to resume; raises ArtifactError when it holds one
    and ``resume`` is off, or when its settings differ from ``settings``."""
    meta_path = out / "evaluation.json"
    if not meta_path.exists() and not (out / "runs").exists():
        if (out / "curves.csv").exists():
            raise ArtifactError(f"{out} holds a curves.csv without evaluation.json; choose "
                                "another --out")
        return False
    if not resume:
        raise ArtifactError(f"{out} already holds an evaluation; add --resume to finish it, "
                            "choose another --out, or re-render it with `leap-rl report`")
    meta = read_metadata(out)
    if meta.get("format") != FORMAT or "settings" not in meta:
        raise ArtifactError(f"{meta_path}: written by an older leap-rl, cannot be resumed "
                            "(re-render it with `leap-rl report`)")
    problems = settings_differences(meta["settings"], settings) if settings else []
    if problems:
        raise ArtifactError(f"cannot resume {out}: its settings differ from this command's "
                            "(use the original ones, or another --out):\n"
                            + "\n".join(f"  - {p}" for p in problems))
    return True


def settings_differences(held: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """Each way ``now`` differs from the settings ``held`` in the directory, in words."""
    problems = [f"{key}: {held.get(key)} in the directory, {now[key]} now"
                for key in ("games", "seeds", "steps") if held.get(key) != now[key]]
    if set(held.get("methods", [])) != set(now["methods"]):
        problems.append(f"methods: {', '.join(held.get('methods', []))} in the directory, "
                        f"{', '.join(now['methods'])} now")
    for key in ("overrides", "groups"):  # absent in directories written before them: none
        if held.get(key, {}) != now.get(key, {}):
            problems.append(f"{key}: {held.get(key, {})} in the directory, {now.get(key, {})} now")
    for name, init in now["inits"].items():
        old = held.get("inits", {}).get(name)
        if old and old.get("kind", "init") != init.get("kind", "init"):
            problems.append(f"--init {name}: a {init.get('kind', 'init')} θ⁰ now, a "
                            f"{old.get('kind', 'init')} one in the directory")
        elif old and old["sha256"] != init["sha256"]:
            problems.append(f"--init {name}: {init['path']} (sha256 {init['sha256'][:12]}…) is "
                            f"not the file evaluated ({old['path']}, sha256 "
                            f"{old['sha256'][:12]}…)")
    old_cfg, new_cfg = (_flatten({k: v for k, v in c.items() if k not in UNCOMPARED})
                        for c in (held.get("config", {}), now["config"]))
    keys = sorted(k for k in old_cfg.keys() | new_cfg.keys() if old_cfg.get(k) != new_cfg.get(k))
    problems += [f"config {k}: {old_cfg.get(k, '(absent)')!r} in the directory, "
                 f"{new_cfg.get(k, '(absent)')!r} now" for k in keys[:MAX_LISTED]]
    if len(keys) > MAX_LISTED:
        problems.append(f"... and {len(keys) - MAX_LISTED} more config keys")
    return problems


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def record_path(out: Path, game: str, method: str, seed: int) -> Path:
    # quote(): a gymnasium id may hold "/" (namespace/Env-v0); method names cannot.
    return out / "runs" / quote(game, safe="") / method / f"seed-{seed}.json"


def write_record(out: Path, record: Mapping[str, Any], curve: Iterable[tuple[int, float]]) -> None:
    """Persists one finished run (its evaluation.json record and its curve) atomically."""
    path = record_path(out, record["game"], record["method"], int(record["seed"]))
    write_json(path, {**record, "curve": [[int(s), float(r)] for s, r in curve]}, indent=None)


def read_records(out: Path) -> dict[RunKey, dict[str, Any]]:
    """Every run file in ``out/runs``, by (game, method, seed)."""
    records = {}
    for path in sorted((out / "runs").glob("*/*/seed-*.json")):
        try:
            rec = json.loads(path.read_text())
            records[(rec["game"], rec["method"], int(rec["seed"]))] = rec
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ArtifactError(f"{path}: unreadable run record ({err}); delete it to rerun "
                                "that run") from None
    return records


def sync(out: Path, settings: Mapping[str, Any], window: int,
         order: Sequence[RunKey]) -> dict[RunKey, dict[str, Any]]:
    """Rebuilds curves.csv and evaluation.json from the run files; returns the records."""
    out.mkdir(parents=True, exist_ok=True)
    records = read_records(out)
    rank = {key: i for i, key in enumerate(order)}
    keys = sorted(records, key=lambda k: (rank.get(k, len(rank)), k))
    write_curves(out / "curves.csv",
                 ((k, records[k]["curve"]) for k in keys if records[k]["status"] == "completed"),
                 window)
    runs = [{k: v for k, v in records[key].items() if k != "curve"} for key in keys]
    write_json(out / "evaluation.json", {"format": FORMAT, "version": VERSION,
                                         "settings": dict(settings), "window": window,
                                         "runs": runs})
    return records


def write_json(path: Path, data: Any, indent: int | None = 2) -> None:
    """JSON to ``path`` atomically: a reader never sees half (:func:`atomic_write`)."""
    text = (json.dumps(data, indent=indent) + "\n").encode()
    atomic_write(path, lambda handle: handle.write(text))
