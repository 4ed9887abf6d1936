"""The command line: every command documented; demo, import, extract and summarize end to end."""

from __future__ import annotations

import json
import subprocess
import sys
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


def test_demo_runs_the_whole_cycle_offline(tmp_path: Path) -> None:
    workspace = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["--config", CONFIG, "demo", "--workspace", str(workspace)], terminal_width=200)
    assert result.exit_code == 0, result.output
    out = result.output
    flat = " ".join(out.split())  # rich wraps long lines at the terminal's width
    assert "first run: courrier-eco: 4 new, 0 already known" in flat
    assert "second run: courrier-eco: 0 new, 4 already known" in flat
    assert "Bouton retour en haut de la page" not in flat
    assert "same story as another source" in flat
    mboxes = sorted(workspace.glob("outbox/edition-*.mbox"))
    htmls = sorted(workspace.glob("outbox/edition-*.html"))
    assert len(mboxes) == len(htmls) == 3, out  # one edition per sample list
    for path in [*mboxes, *htmls]:
        assert path.name in out
    # sections carry the titles the lists give them, in each list's language
    assert "Énergie et climat" in htmls[0].read_text(encoding="utf-8")
    assert "Energy and climate" in htmls[1].read_text(encoding="utf-8")
    # the second send of each edition sent nothing
    rows = [line for line in out.splitlines() if "messages" in line]
    assert rows and all(line.rstrip(" │").endswith("0 messages") for line in rows), rows
    # running it again starts from an empty workspace
    again = CliRunner().invoke(cli, ["--config", CONFIG, "demo", "--workspace", str(workspace)], terminal_width=200)
    assert again.exit_code == 0 and "first run: courrier-eco: 4 new" in " ".join(again.output.split())


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
    flat = " ".join(status.output.split())
    assert "import" in flat and "1 articles (fr 1)" in flat and "0 waiting for enrichment" in flat


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


@pytest.fixture
def workspace_config(tmp_path: Path, monkeypatch) -> str:
    """The example configuration, with the store and outbox in tmp_path."""
    text = (ROOT / "newsletter.toml").read_text(encoding="utf-8")
    text = text.replace('url = "sample/', f'url = "{ROOT}/sample/')
    text = text.replace('data = "var"', f'data = "{tmp_path}"\nsubscribers = "{ROOT}/subscribers"\n'
                        f'templates = "{ROOT}/templates"\noutbox = "{tmp_path}/outbox"')
    path = tmp_path / "newsletter.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.delenv("NEWSLETTER_DATABASE_URL", raising=False)
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "a-test-secret-that-is-long-enough")
    return str(path)


def test_an_editor_does_each_step_by_hand(workspace_config: str, tmp_path: Path) -> None:
    run = CliRunner().invoke

    def ok(*args: str) -> str:
        result = run(cli, ["--config", workspace_config, *args])
        assert result.exit_code == 0, result.output
        return result.output

    ok("init")
    ok("collect")
    ok("subscribers", "sync")
    assert "nothing new for digest-en" not in ok("editions", "build", "--list", "digest-en", "--date", "2026-11-28")
    built = ok("editions", "build", "--list", "revue-fr", "--date", "2026-11-28")
    edition_id = built.split()[1]
    data = json.loads(ok("editions", "show", edition_id, "--format", "json"))
    assert data["status"] == "draft" and len(data["items"]) >= 3
    first, second = data["items"][0]["id"], data["items"][1]["id"]
    ok("editions", "edit", edition_id, "--subject", "Notre revue du samedi",
       "--drop", str(second), "--title", f"{first}:Un titre réécrit")
    # sending a draft is refused with the next step
    refused = run(cli, ["--config", workspace_config, "editions", "send", edition_id])
    assert refused.exit_code == 1 and f"approve it first ('newsletter editions approve {edition_id}')" in refused.output
    ok("editions", "approve", edition_id)
    html = ok("editions", "show", edition_id, "--format", "html")
    assert "Un titre réécrit" in html and 'lang="fr"' in html
    sent = ok("editions", "send", edition_id)
    assert f"edition {edition_id}: 6 messages sent in 1 batches" in sent
    again = ok("editions", "send", edition_id)
    assert f"edition {edition_id}: 0 messages sent in 0 batches, 1 batches sent before" in again
    mbox = tmp_path / "outbox" / f"edition-{edition_id}.mbox"
    assert mbox.read_bytes().count(b"\nFrom ") + 1 == 6
    # a sent edition cannot be edited or rebuilt
    frozen = run(cli, ["--config", workspace_config, "editions", "edit", edition_id, "--subject", "x"])
    assert frozen.exit_code == 1 and "is sent" in frozen.output
    shown = ok("editions", "show", edition_id)
    assert "Notre revue du samedi" in shown and "✗" in shown
    status = " ".join(ok("status").split())
    assert f"#{edition_id} │ revue-fr │ 2026-11-28 │ sent │ 1 sent │ 6" in status
    # finding an edition again: by list and state, newest first
    listed = " ".join(ok("editions", "list", "--list", "revue-fr", "--status", "sent").split())
    assert f"#{edition_id} │ revue-fr │ 2026-11-28 │ sent │ 1 sent │ 6" in listed
    assert "digest-en" not in listed
    assert "no edition of revue-fr held" in ok("editions", "list", "--list", "revue-fr", "--status", "held")
    wrong = run(cli, ["--config", workspace_config, "editions", "list", "--status", "drafts"])
    assert wrong.exit_code == 2 and "'drafts' is not one of draft" in wrong.output


def test_sending_a_held_edition_says_to_approve_it_first(workspace_config: str) -> None:
    from sqlalchemy import update

    from newsletter.config import load
    from newsletter.store.db import Store
    from newsletter.store.models import Edition

    run = CliRunner().invoke
    for args in (["init"], ["collect"]):
        assert run(cli, ["--config", workspace_config, *args]).exit_code == 0
    built = run(cli, ["--config", workspace_config, "editions", "build", "--list", "revue-fr", "--date", "2026-11-28"])
    edition_id = built.output.split()[1]
    store = Store.open(load(workspace_config).database_url)
    with store.session() as session:  # as the daemon leaves it at its send time
        session.execute(update(Edition).where(Edition.id == int(edition_id)).values(status="held"))
        session.commit()
    store.close()
    for extra in ([], ["--plan-only"]):
        result = run(cli, ["--config", workspace_config, "editions", "send", edition_id, *extra])
        assert result.exit_code == 1, result.output
        assert (
            f"edition {edition_id} is held, not approved: approve it first ('newsletter editions approve "
            f"{edition_id}'), then run 'newsletter editions send {edition_id}' again"
        ) in " ".join(result.output.split())


def test_send_without_a_secret_key_says_what_to_set(workspace_config: str, monkeypatch) -> None:
    monkeypatch.delenv("NEWSLETTER_SECRET_KEY")
    result = CliRunner().invoke(cli, ["--config", workspace_config, "editions", "send", "1"])
    assert result.exit_code == 2 and "NEWSLETTER_SECRET_KEY" in result.output


def test_subscribers_export_and_forget(workspace_config: str) -> None:
    run = CliRunner().invoke
    assert run(cli, ["--config", workspace_config, "init"]).exit_code == 0
    assert run(cli, ["--config", workspace_config, "subscribers", "sync"]).exit_code == 0
    exported = run(cli, ["--config", workspace_config, "subscribers", "export", "--list", "digest-en"])
    assert exported.exit_code == 0
    rows = exported.output.strip().splitlines()
    assert rows[0].startswith("list,email") and len(rows) == 4
    email = rows[1].split(",")[1]
    forgot = run(cli, ["--config", workspace_config, "subscribers", "forget", email])
    assert forgot.exit_code == 0 and "forgot" in forgot.output
    after = run(cli, ["--config", workspace_config, "subscribers", "export", "--list", "digest-en"])
    assert email not in after.output


def test_summarize_jsonl_needs_an_id_on_every_line(tmp_path: Path) -> None:
    lines = tmp_path / "in.jsonl"
    text = "Le port a battu son record. Le trafic a progressé de 12 %. Les grues seront automatisées."
    lines.write_text(
        json.dumps({"id": 1, "text": text}) + "\n" + json.dumps({"text": text}) + "\n"
        + json.dumps({"id": 3}) + "\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["summarize", "--jsonl", str(lines)])
    assert result.exit_code == 1
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [1]  # never "id": null
    assert f'{lines}:2: missing "id" (expected an object with "id" and "text")' in result.stderr
    assert f'{lines}:3: missing "text"' in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--force"], "--force goes with --date DAY"),
        (["-", "--force"], "--force goes with --date DAY"),
        (["-", "--date", "2026-11-28"], "--date DAY re-summarizes stored articles: give it without a FILE"),
        (["--jsonl", "-", "--date", "2026-11-28"], "without a FILE or --jsonl"),
        (["-", "--jsonl", "-"], "give a FILE or --jsonl IN, not both"),
    ],
)
def test_summarize_refuses_options_that_would_be_ignored(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["summarize", *args], input="Un texte. Deux phrases.")
    assert result.exit_code == 2
    assert message in result.output


def test_a_missing_edition_points_to_editions_list(workspace_config: str) -> None:
    run = CliRunner().invoke
    assert run(cli, ["--config", workspace_config, "init"]).exit_code == 0
    result = run(cli, ["--config", workspace_config, "editions", "show", "99"])
    assert result.exit_code == 1
    assert "no edition 99 (run 'newsletter editions list' to see the editions)" in result.output


@pytest.mark.parametrize(("secret", "problem"), [(None, "it is not set"), ("short", "it is too short")])
def test_the_secret_key_message_holds_for_serve_too(
    workspace_config: str, monkeypatch, secret: str | None, problem: str
) -> None:
    assert CliRunner().invoke(cli, ["--config", workspace_config, "init"]).exit_code == 0
    if secret is None:
        monkeypatch.delenv("NEWSLETTER_SECRET_KEY")
    else:
        monkeypatch.setenv("NEWSLETTER_SECRET_KEY", secret)
    result = CliRunner().invoke(cli, ["--config", workspace_config, "serve", "--port", "1"])
    assert result.exit_code == 2
    assert f"set NEWSLETTER_SECRET_KEY in the environment ({problem}): a long random" in result.output
    assert "before sending" not in result.output  # serve sends nothing
    assert "short" not in result.output.replace("too short", "")  # the value is never shown


def test_status_shows_stored_values_as_written(workspace_config: str, tmp_path: Path) -> None:
    config = Path(workspace_config)
    config.write_text(
        config.read_text(encoding="utf-8")
        + '\n[[sources]]\nname = "gone"\nkind = "file"\nurl = "imports/[b]today[/b]"\n',
        encoding="utf-8",
    )
    run = CliRunner().invoke
    assert run(cli, ["--config", workspace_config, "init"]).exit_code == 0
    collected = run(cli, ["--config", workspace_config, "collect", "--source", "gone"])
    assert "[b]today[/b]: file or folder not found" in collected.output
    status = run(cli, ["--config", workspace_config, "status"], env={"COLUMNS": "400"})
    assert status.exit_code == 0, status.output
    assert f"{tmp_path}/imports/[b]today[/b]: file or folder not found" in " ".join(status.output.split())


def test_extract_of_a_non_html_file_says_one_clear_line(tmp_path: Path) -> None:
    """trafilatura logs "parsed tree length: 0" as an error; ours says it better, once. A real
    process: the logging set up by the command is what a user sees on stderr."""
    page = tmp_path / "x.html"
    page.write_text("x", encoding="utf-8")
    command = [sys.executable, "-c", "from newsletter.cli import cli; cli()", "extract", str(page)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: file://{page}: not an HTML page (empty or unreadable)"
    ]
