"""The command line's shape: one module per subcommand, each listed with one line in
``leap-rl --help`` and showing examples in its own ``--help`` that the real parser accepts."""

from __future__ import annotations

import shlex

import pytest

from leap_rl import cli


def _help(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 0
    return capsys.readouterr().out


def test_top_level_help_lists_every_subcommand_with_its_line(capsys):
    text = "".join(_help(["--help"], capsys).split())  # argparse wraps lines, also at hyphens
    for module in cli.SUBCOMMANDS:
        assert module.NAME + "".join(module.HELP.split()) in text, module.NAME
    assert sorted(cli.COMMANDS) == sorted(m.NAME for m in cli.SUBCOMMANDS)


@pytest.mark.parametrize("module", cli.SUBCOMMANDS, ids=lambda m: m.NAME)
def test_every_subcommand_help_shows_examples_that_parse(module, capsys):
    text = _help([module.NAME, "--help"], capsys)
    assert "examples:" in text
    examples = [line.split("#")[0].strip() for line in module.EXAMPLES.splitlines()]
    commands = [e for e in examples if e.startswith(f"leap-rl {module.NAME}") and "..." not in e
                and not e.endswith("\\")]
    assert commands, f"{module.NAME}: no complete example"
    for command in commands:
        assert command in text
        args = cli.build_parser().parse_args(shlex.split(command)[1:])
        assert args.command == module.NAME
