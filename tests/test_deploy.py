"""The systemd units in deploy/ start commands that exist, with options the CLI accepts."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest

from newsletter.cli import cli

from .conftest import ROOT

UNITS = sorted((ROOT / "deploy").glob("*.service"))


def _service(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys as systemd spells them
    parser.read(path, encoding="utf-8")
    return parser["Service"]


def test_there_is_a_unit_for_each_long_running_command() -> None:
    commands = {shlex.split(_service(unit)["ExecStart"])[3] for unit in UNITS}
    assert commands == {"daemon", "serve", "worker"}


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_a_unit_starts_a_real_command_and_keeps_secrets_out(unit: Path) -> None:
    service = _service(unit)
    program, *args = shlex.split(service["ExecStart"])
    assert program.endswith("/.venv/bin/newsletter")
    option, config, name, *rest = args
    assert (option, config) == ("--config", "/srv/newsletter/newsletter.toml")
    # Parse as click would under systemd, without running anything: an unknown command or
    # option, or a value of the wrong kind, fails here.
    assert name in cli.commands, name
    cli.commands[name].make_context(name, rest)
    assert service["EnvironmentFile"] == "/etc/newsletter/env"  # secrets only from there
    assert "SECRET" not in service.get("Environment", "")
    assert service["RestartPreventExitStatus"] == "2"  # bad configuration: no restart loop
