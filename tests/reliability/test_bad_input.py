"""Bad configs end with exit status 2 and one short message naming every broken key, before Ray.

Configs are generated from configs/smoke.yaml by applying 1–3 mutations (wrong types, unknown
keys, out-of-range numbers, unknown games, empty pools), each of which knows which key it breaks;
the CLI runs in-process with ``ray.init`` replaced by a trap, so any attempt to start Ray fails.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import ray
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from leap_rl.cli import main
from leap_rl.envs import is_atari_game

pytestmark = pytest.mark.reliability
SMOKE = Path(__file__).parents[2] / "configs" / "smoke.yaml"
BASE = yaml.safe_load(SMOKE.read_text())

# The schema, written out here rather than read from the models, so the test is its own oracle.
# Integers: (lowest allowed, highest allowed or None).
INTS = {
    "seed": (0, None), "env.frame_stack": (1, 16), "env.frame_skip": (1, 16),
    "env.noop_max": (0, 1000), "env.max_episode_frames": (100, None),
    "inner.num_envs": (1, None), "inner.unroll_length": (1, None),
    "meta.meta_steps": (1, None), "meta.meta_batch_size": (1, None),
    "meta.steps_per_task": (1, None), "workers.flush_every": (1, None),
    "workers.max_task_retries": (0, None), "workers.min_tasks_per_meta_step": (1, None),
    "run.checkpoint_every": (1, None), "run.keep_checkpoints": (1, None),
}
OPTIONAL_INTS = {"workers.num_workers": (1, None)}
# Floats: (low, low allowed?, high or None, high allowed?).
FLOATS = {
    "env.repeat_action_probability": (0.0, True, 1.0, True),
    "inner.discount": (0.0, True, 1.0, True), "inner.entropy_cost": (0.0, True, None, False),
    "inner.value_loss_coef": (0.0, True, None, False),
    "inner.learning_rate": (0.0, False, None, False),
    "inner.rmsprop_eps": (0.0, False, None, False),
    "inner.rmsprop_alpha": (0.0, False, 1.0, False), "inner.reward_clip": (0.0, False, None, False),
    "meta.learning_rate": (0.0, False, 1.0, True), "workers.num_cpus": (0.0, True, None, False),
    "workers.num_gpus": (0.0, True, None, False),
    "workers.task_timeout_s": (0.0, False, None, False),
    "workers.startup_timeout_s": (0.0, False, None, False),
}
OPTIONAL_FLOATS = {"inner.max_grad_norm": (0.0, False, None, False)}
BOOLS = ["env.grayscale", "leap.loss_in_manifold", "leap.stabilizer"]
CHOICES = {"leap.metric": ["length", "energy"], "workers.failure_policy": ["keep_partial", "retry"],
           "inner.device": ["auto", "cpu", "cuda"], "inner.encoder": ["nature2013", "mlp"]}
STR_LISTS = ["meta.pool", "inner.meta_parameters"]
SECTIONS = ["env", "inner", "leap", "meta", "workers", "run"]
FIELDS = {"": ["name", "seed", *SECTIONS]}
for key in [*INTS, *OPTIONAL_INTS, *FLOATS, *OPTIONAL_FLOATS, *BOOLS, *CHOICES, *STR_LISTS,
            "meta.betas", "name"]:
    section, _, leaf = key.rpartition(".")
    FIELDS.setdefault(section, []).append(leaf)


@dataclass(frozen=True)
class Mutation:
    """Writes ``value`` at ``path``. The message must start a problem line with each dotted key
    in ``keys`` (or a key below it: ``meta.pool.3``) and contain each string in ``mentions``.

    ``scope`` is what the mutation needs left intact to be reported: a cross-field check of a
    section runs only when no field of that section failed (pydantic's after-validators).
    """

    kind: str
    path: tuple[str, ...]
    value: Any
    keys: tuple[str, ...]
    mentions: tuple[str, ...] = ()
    scope: tuple[str, ...] | None = None

    def apply(self, data: dict) -> None:
        node = data
        for part in self.path[:-1]:
            node = node.setdefault(part, {})
        node[self.path[-1]] = self.value

    def as_override(self) -> str:
        """The same mutation as ``--set key=value`` (the value in YAML flow style)."""
        raw = yaml.safe_dump(self.value, default_flow_style=True, width=10**6)
        raw = raw.removesuffix("\n...\n").removesuffix("\n")
        assert yaml.safe_load(raw) == self.value or self.value != self.value
        return f"{'.'.join(self.path)}={raw}"

    def clashes_with(self, other: Mutation) -> bool:
        prefix = lambda a, b: b[:len(a)] == a
        scope = lambda m: m.path if m.scope is None else m.scope
        return prefix(scope(self), other.path) or prefix(scope(other), self.path)


def _path(key: str) -> tuple[str, ...]:
    return tuple(key.split("."))


def _broken(kind: str, key: str, values: st.SearchStrategy) -> st.SearchStrategy:
    return values.map(lambda v: Mutation(kind, _path(key), v, (key,)))


# Strings that no lax pydantic parser turns into a number or a boolean ("inf", "yes", "1e3", …).
junk_text = st.from_regex(r"\Axq[a-z]{0,6}\Z")
containers = st.one_of(st.lists(st.integers(-3, 3), max_size=3),
                       st.dictionaries(junk_text, st.integers(), min_size=1, max_size=2))
not_a_number = st.one_of(junk_text, containers)
fractional = st.builds(lambda i, f: i + f, st.integers(-10**6, 10**6),
                       st.sampled_from([0.5, 0.25, 1e-3]))


def wrong_types() -> st.SearchStrategy:
    options = []
    for key in INTS:
        options.append(_broken("wrong type", key, st.one_of(not_a_number, fractional, st.none())))
    for key in OPTIONAL_INTS:
        options.append(_broken("wrong type", key, st.one_of(not_a_number, fractional)))
    for key in FLOATS:
        options.append(_broken("wrong type", key, st.one_of(not_a_number, st.none())))
    for key in OPTIONAL_FLOATS:
        options.append(_broken("wrong type", key, not_a_number))
    for key in BOOLS:
        options.append(_broken("wrong type", key, st.one_of(
            junk_text, containers, st.integers(2, 100), st.floats(0.1, 0.9), st.none())))
    for key in CHOICES:
        options.append(_broken("wrong type", key, st.one_of(junk_text, st.integers(), containers)))
    for key in STR_LISTS:
        options.append(_broken("wrong type", key, st.one_of(
            junk_text, st.integers(), st.dictionaries(junk_text, junk_text, min_size=1, max_size=2),
            st.lists(st.one_of(st.integers(), st.lists(junk_text, max_size=1)), min_size=1,
                     max_size=3))))
    options.append(_broken("wrong type", "meta.betas", st.one_of(
        junk_text, st.integers(), st.lists(st.floats(0, 0.99), min_size=3, max_size=4),
        st.lists(junk_text, min_size=2, max_size=2))))
    options.append(_broken("wrong type", "name", st.one_of(st.integers(), containers, st.none())))
    options.append(st.builds(lambda s, v: Mutation("wrong type", (s,), v, (s,)),
                             st.sampled_from(SECTIONS),
                             st.one_of(st.integers(), junk_text,
                                       st.lists(st.integers(), max_size=2))))
    return st.one_of(options)


def unknown_keys() -> st.SearchStrategy:
    def make(section, key, value):
        dotted = f"{section}.{key}" if section else key
        return Mutation("unknown key", _path(dotted), value, (), (f"- {dotted}: unknown key",))

    section = st.sampled_from(sorted(FIELDS))
    return section.flatmap(lambda s: st.builds(
        make, st.just(s), st.from_regex(r"\A[a-z][a-z_]{0,12}\Z").filter(
            lambda k: k not in FIELDS[s]), st.one_of(st.integers(), junk_text, st.booleans())))


def _outside(low, low_ok, high, high_ok) -> st.SearchStrategy:
    options = [st.floats(max_value=low, exclude_max=low_ok, allow_nan=False), st.just(float("nan"))]
    if high is not None:
        options.append(st.floats(min_value=high, exclude_min=high_ok, allow_nan=False))
    return st.one_of(options)


def out_of_range() -> st.SearchStrategy:
    options = []
    for key, (low, high) in {**INTS, **OPTIONAL_INTS}.items():
        values = [st.integers(-10**12, low - 1)]
        if high is not None:
            values.append(st.integers(high + 1, 10**12))
        options.append(_broken("out of range", key, st.one_of(values)))
    for key, bounds in {**FLOATS, **OPTIONAL_FLOATS}.items():
        options.append(_broken("out of range", key, _outside(*bounds)))
    options.append(_broken("out of range", "meta.betas", st.tuples(
        st.floats(0, 0.99), st.one_of(st.floats(max_value=0, exclude_max=True),
                                      st.floats(min_value=1.0))).flatmap(st.permutations)))
    options.append(_broken("out of range", "name", st.just("")))
    options.append(_broken("out of range", "inner.meta_parameters", st.just([])))
    return st.one_of(options)


unknown_game = st.from_regex(r"\AQx[a-z]{1,8}[0-9]?\Z").filter(lambda g: not is_atari_game(g))


def bad_pools() -> st.SearchStrategy:
    pool = BASE["meta"]["pool"]
    unknown = st.tuples(unknown_game, st.integers(0, len(pool))).map(
        lambda gi: Mutation("unknown game", ("meta", "pool"), pool[:gi[1]] + [gi[0]] + pool[gi[1]:],
                            ("meta.pool",), (f"Unknown game {gi[0]!r}",)))
    return st.one_of(
        unknown,
        st.just(Mutation("empty pool", ("meta", "pool"), [], ("meta.pool",))),
        st.sampled_from([g.lower() for g in pool] + [f"ALE/{g}-v5" for g in pool]).map(
            lambda g: Mutation("duplicate game", ("meta", "pool"), [*pool, g], ("meta.pool",))))


def cross_field() -> st.SearchStrategy:
    """Numbers fine on their own that contradict another key (reported only on their own)."""
    pool, batch = len(BASE["meta"]["pool"]), BASE["meta"]["meta_batch_size"]
    return st.one_of(
        st.integers(pool + 1, 10**6).map(lambda n: Mutation(
            "batch exceeds pool", ("meta", "meta_batch_size"), n, ("meta",),
            (f"meta_batch_size {n} exceeds",), scope=("meta",))),
        st.integers(batch + 1, 10**6).map(lambda n: Mutation(
            "min tasks exceed batch", ("workers", "min_tasks_per_meta_step"), n, (),
            (f"workers.min_tasks_per_meta_step ({n}) exceeds",), scope=())))


# Each kind equally likely (st.one_of would weight kinds by their number of branches).
mutation = st.sampled_from([wrong_types(), unknown_keys(), out_of_range(), bad_pools(),
                            cross_field()]).flatmap(lambda kind: kind)


@st.composite
def broken_configs(draw):
    """1–3 mutations that do not mask one another, each applied in the file or via --set."""
    chosen: list[Mutation] = []
    for _ in range(draw(st.integers(1, 3))):
        m = draw(mutation)
        if not any(m.clashes_with(c) for c in chosen):
            chosen.append(m)
    as_override = [draw(st.booleans()) for _ in chosen]
    return chosen, as_override


class RayStarted(BaseException):
    """Raised by the trapped ``ray.init``; a BaseException so nothing on the way swallows it."""


@pytest.fixture
def no_ray(monkeypatch):
    def trap(*args, **kwargs):
        raise RayStarted("ray.init called for a bad config")

    monkeypatch.setattr(ray, "init", trap)


def check_rejected(argv: list[str], capsys, keys=(), mentions=()) -> str:
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 2, f"{argv}: exit {status}\n{out}\n{err}"
    assert err.startswith("leap-rl: error: "), err
    assert "Traceback" not in err + out
    assert len(err.splitlines()) < 25, err
    for key in keys:  # a problem line "  - KEY: …" or "  - KEY.sub: …"
        assert re.search(rf"^  - {re.escape(key)}(\.\w+)*: ", err, re.M), f"{key} not named:\n{err}"
    for text in mentions:
        assert text in err, f"{text!r} not in:\n{err}"
    return err


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=broken_configs(), command=st.sampled_from(["train", "config"]))
def test_every_bad_config_exits_2_naming_each_broken_key_before_ray(case, command, tmp_path,
                                                                      no_ray, capsys):
    mutations, as_override = case
    event(f"{len(mutations)} mutation(s)")
    for m in mutations:
        event(m.kind)
    data, overrides = copy.deepcopy(BASE), []
    for m, override in zip(mutations, as_override):
        if override:
            overrides += ["--set", m.as_override()]
        else:
            m.apply(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    argv = [command, str(path), *overrides]
    if command == "train":
        argv += ["--out", str(tmp_path / "run")]
    check_rejected(argv, capsys, keys=[k for m in mutations for k in m.keys],
                   mentions=[t for m in mutations for t in m.mentions])
    assert not (tmp_path / "run").exists()  # nothing written for a run that never started


@pytest.mark.parametrize("text,fragment", [
    ("meta: {pool: [Pong\n", "not valid YAML"),
    ("- Pong\n- Freeway\n", "top level must be a mapping"),
    ("meta:\n  pool: Pong, Freeway\n", "meta.pool"),
])
def test_unreadable_yaml_exits_2_before_ray(tmp_path, no_ray, capsys, text, fragment):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    check_rejected(["train", str(path), "--out", str(tmp_path / "run")], capsys,
                   mentions=[fragment])


@pytest.mark.parametrize("override", [
    "inner.learning_rate=.inf", "inner.entropy_cost=.inf", "inner.rmsprop_eps=.inf",
    "workers.num_cpus=.inf", "workers.num_gpus=.inf", f"seed={2**64}",
])
def test_numbers_the_run_cannot_use_are_rejected_up_front(tmp_path, no_ray, capsys, override):
    check_rejected(["config", str(SMOKE), "--set", override], capsys,
                   keys=[override.partition("=")[0]])
