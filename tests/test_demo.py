"""`newsletter demo --workspace`: the demo empties its own folder, never anybody else's."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from newsletter import config as config_mod
from newsletter.cli import cli
from newsletter.demo import WORKSPACE_MARK, _empty_workspace
from newsletter.errors import InputError

from .conftest import ROOT

CONFIG = str(ROOT / "newsletter.toml")


def demo(workspace: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", CONFIG, "demo", "--workspace", str(workspace)])
    return result.exit_code, " ".join(result.output.split())


def test_a_folder_that_is_not_a_demo_workspace_is_refused_and_kept(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("a year of work", encoding="utf-8")
    (precious / "newsletter.db").write_text("not the demo's", encoding="utf-8")

    code, out = demo(precious)

    assert code == 1, out
    assert f"{precious}: not a demo workspace" in out and "Traceback" not in out
    assert (precious / "notes.txt").read_text(encoding="utf-8") == "a year of work"
    assert sorted(p.name for p in precious.iterdir()) == ["newsletter.db", "notes.txt"]


def test_the_project_folder_itself_is_refused(tmp_path: Path, monkeypatch) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "newsletter.toml").write_text((ROOT / "newsletter.toml").read_text("utf-8"), "utf-8")
    monkeypatch.chdir(project)
    code, out = demo(Path("."))
    assert code == 1 and "not a demo workspace" in out, out
    assert (project / "newsletter.toml").is_file()


def test_a_workspace_holding_the_configuration_is_refused_even_when_marked(tmp_path: Path) -> None:
    (tmp_path / WORKSPACE_MARK).write_text("", encoding="utf-8")
    (tmp_path / "newsletter.toml").write_text("", encoding="utf-8")
    config = config_mod.parse({}, base_dir=tmp_path, path=tmp_path / "newsletter.toml")
    with pytest.raises(InputError, match="not a demo workspace"):
        _empty_workspace(tmp_path, config)
    assert (tmp_path / "newsletter.toml").is_file()


@pytest.mark.parametrize(
    "made_by", ["this demo (marked)", "a demo from before the mark", "nothing yet", "no folder"]
)
def test_a_demo_workspace_is_emptied_and_marked(tmp_path: Path, made_by: str) -> None:
    workspace = tmp_path / "demo"
    if made_by != "no folder":
        (workspace / "outbox").mkdir(parents=True)
    if made_by == "this demo (marked)":
        (workspace / WORKSPACE_MARK).write_text("", encoding="utf-8")
        (workspace / "left-over.txt").write_text("", encoding="utf-8")
    if made_by != "nothing yet" and made_by != "no folder":
        (workspace / "newsletter.db").write_text("old store", encoding="utf-8")
        (workspace / "outbox" / "edition-1.mbox").write_text("old mail", encoding="utf-8")
    if made_by == "nothing yet":
        (workspace / "outbox").rmdir()

    _empty_workspace(workspace, config_mod.parse({}, base_dir=tmp_path))

    assert [p.name for p in workspace.iterdir()] == [WORKSPACE_MARK]


def test_the_demo_prints_what_articles_say_as_they_say_it(tmp_path: Path) -> None:
    """Brackets in a title or a summary are text, not rich markup (a "[/x]" had crashed it)."""
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "crochets.txt").write_text(
        "Le budget [/x] passe en [bold] seconde lecture\n\n"
        "Les députés ont adopté le budget [2027] en seconde lecture mardi soir, après trois jours "
        "de débats sur les dépenses des régions et des communes du royaume.\n",
        encoding="utf-8",
    )
    config = tmp_path / "newsletter.toml"
    config.write_text(
        f'[[sources]]\nname = "local"\nkind = "file"\nurl = "{articles}"\nlanguage = "fr"\n'
        f'[paths]\nsubscribers = "{ROOT / "subscribers"}"\ntemplates = "{ROOT / "templates"}"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli, ["--config", str(config), "demo", "--workspace", str(tmp_path / "demo")],
        terminal_width=300,
    )
    assert result.exit_code == 0, result.output
    assert "[fr] Le budget [/x] passe en [bold] seconde lecture" in result.output
    assert "le budget [2027]" in result.output
