"""``leap-rl config``: validate a config and print it resolved, or describe every key."""

from __future__ import annotations

import argparse

import yaml

from leap_rl.cli.common import OK, add_overrides
from leap_rl.config import config_fields_help, load_config

NAME = "config"
HELP = "validate a config and print it resolved (or every key's meaning)"
EXAMPLES = """\
  leap-rl config configs/paper.yaml                      # the resolved config, as YAML
  leap-rl config configs/smoke.yaml --set seed=3         # with an override
  leap-rl config configs/paper.yaml --describe           # every key: type, default, meaning"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="experiment YAML, e.g. configs/paper.yaml")
    add_overrides(parser)
    parser.add_argument("--describe", action="store_true", help="list every key with its meaning")


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, args.overrides)
    if args.describe:
        print("\n".join(config_fields_help()))
    else:
        print(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), end="")
    return OK
