"""The command line: every command documented; demo, import, extract and summarize end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsletter.cli import cli

from .conftest import ROOT, shared_data

CONFIG = str(ROOT / "newsletter.toml")


@pytest.fixture
def runner(tmp_path: Path, monkeypatch) -> CliRunner:
    """A runner whose store is a fresh SQLite file, whatever newsletter.toml says."""
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    return CliRunner()


def test_every_command_has_help_and_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, command in cli.commands.items():
        assert command.help, f"'newsletter {name}' has no help text"
        assert f"newsletter {name}" in readme, f"'newsletter {name}' is not in README.md"
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0, result.output


def test_commands_before_init_say_what_to_do(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--config", CONFIG, "collect"])
    assert result.exit_code == 1
    assert "run 'newsletter init' first" in result.output


def test_demo_runs_offline_and_twice_adds_nothing(runner: CliRunner) -> None:
    first = runner.invoke(cli, ["--config", CONFIG, "demo"])
    assert first.exit_code == 0, first.output
    assert "collected courrier-eco: 4 new" in first.output
    assert "Bouton retour en haut de la page" not in first.output
    assert "(same story as another source)" in first.output
    second = runner.invoke(cli, ["--config", CONFIG, "demo"])
    assert second.exit_code == 0, second.output
    assert "collected courrier-eco: 0 new, 4 already known" in second.output
    assert "collected sample-articles: 0 new" in second.output
    status = runner.invoke(cli, ["--config", CONFIG, "status"])
    assert status.exit_code == 0, status.output
    flat = " ".join(status.output.split())
    assert "courrier-eco" in flat and "10 articles (fr 7, en 2, ar 1)" in flat and "0 waiting for enrichment" in flat


def test_import_reports_bad_files_and_keeps_the_good(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(cli, ["--config", CONFIG, "init"]).exit_code == 0
    good = tmp_path / "note.txt"
    good.write_text(
        "Un titre d’exemple\n\nPremier paragraphe du texte, écrit pour le test. Il a deux phrases.\n",
        encoding="utf-8",
    )
    bad = tmp_path / "notes.docx"
    bad.write_bytes(b"PK\x03\x04")
    result = runner.invoke(cli, ["--config", CONFIG, "import", str(good), str(bad), str(tmp_path / "gone.txt")])
    assert result.exit_code == 0, result.output
    assert "notes.docx" in result.output and "gone.txt: no such file" in result.output
    again = runner.invoke(cli, ["--config", CONFIG, "import", str(good)])
    assert again.exit_code == 0, again.output
    assert "0 articles enriched" in again.output
    status = runner.invoke(cli, ["--config", CONFIG, "status"])
    assert "1 articles" in status.output


def test_import_sample_article(runner: CliRunner) -> None:
    sample = shared_data("articles", "hammouchi-moscou-fr.txt")
    assert runner.invoke(cli, ["--config", CONFIG, "init"]).exit_code == 0
    result = runner.invoke(cli, ["--config", CONFIG, "import", str(sample)])
    assert result.exit_code == 0, result.output
    assert "1 articles enriched, 1 summarized" in result.output


def test_extract_prints_json(tmp_path: Path) -> None:
    page = ROOT / "sample" / "articles" / "water-desalination-fr.html"
    result = CliRunner().invoke(cli, ["extract", str(page), "--url", "https://quotidien.example/d", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["title"].startswith("Dessalement")
    assert data["language"] == "fr"
    assert data["author"] == "Leïla Chraibi"
    assert data["published"].startswith("2026-11-27")
    assert "Lire aussi" not in data["text"] and "Tous droits réservés" not in data["text"]


def test_summarize_jsonl_reports_bad_lines_and_goes_on(tmp_path: Path) -> None:
    lines = tmp_path / "in.jsonl"
    lines.write_text(
        json.dumps({"id": 1, "text": "Le port a battu son record. Le trafic a progressé de 12 %. Les grues seront automatisées."}) + "\n"
        + "{not json\n"
        + json.dumps({"id": 3, "text": "   "}) + "\n"
        + json.dumps({"id": 4, "title": "Solar", "text": "The plant reached full capacity. It stores heat in molten salt."}) + "\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["summarize", "--jsonl", str(lines), "--max-words", "12"])
    assert result.exit_code == 1
    out = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [o["id"] for o in out] == [1, 4]
    assert out[0]["language"] == "fr" and out[1]["language"] == "en"
    assert all(len(o["summary"].split()) <= 12 for o in out)
    assert f"{lines}:2:" in result.stderr and f"{lines}:3:" in result.stderr


def test_summarize_stdin() -> None:
    text = "Le conseil a voté le budget lundi. Les débats ont duré six heures. L’opposition a quitté la salle."
    result = CliRunner().invoke(cli, ["summarize", "-", "--max-words", "10"], input=text)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Le conseil a voté le budget lundi."
