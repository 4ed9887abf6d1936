"""Configuration: the example file is valid; every mistake names its key path; exit status 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsletter import config as config_mod
from newsletter.cli import cli
from newsletter.errors import ConfigError

from .conftest import ROOT


def test_example_configuration_is_valid() -> None:
    config = config_mod.load(ROOT / "newsletter.toml")
    assert [s.name for s in config.sources] == ["courrier-eco", "sample-articles"]
    assert {r.name for r in config.tags} >= {"economie", "politique", "sport", "culture"}
    assert config.summarize.max_words == 60
    assert config.database_url.endswith("var/newsletter.db")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"sources": [{"name": "a", "url": "https://x.example/f", "kin": "feed"}]}, "sources[0].kin: unknown key"),
        ({"summarize": {"max_words": "sixty"}}, "summarize.max_words: expected an integer"),
        ({"summarize": {"max_words": True}}, "summarize.max_words: expected an integer"),
        ({"summarize": {"method": "magic"}}, "summarize.method: 'magic' is not one of"),
        ({"sources": [{"name": "a", "url": "ftp://x.example/f"}]}, "sources[0].url: unsupported scheme 'ftp'"),
        ({"sources": [{"name": "a", "url": "https:///f"}]}, "sources[0].url: 'https:///f' has no host"),
        ({"sources": [{"name": "A b", "url": "https://x.example/f"}]}, "sources[0].name"),
        ({"sources": [{"url": "https://x.example/f"}]}, "name: missing"),
        (
            {"sources": [{"name": "a", "url": "https://x.example/f"}, {"name": "a", "url": "https://y.example/f"}]},
            "sources[1].name: 'a' is used by another source",
        ),
        ({"sources": [{"name": "a", "url": "https://x.example/f", "tags": "eco"}]}, "sources[0].tags: expected a list"),
        ({"tags": [{"name": "eco", "keywords": ["x", 3]}]}, "tags[0].keywords[1]: expected a string"),
        ({"colect": {}}, "colect: unknown key"),
        ({"sources": [{"name": "a", "kind": "page", "url": "page.html"}]}, "a 'page' source needs an http(s) URL"),
        ({"web": {"signup_origins": ["https://www.example.ma/newsletter"]}}, "web.signup_origins[0]: "),
        ({"web": {"signup_origins": ["www.example.ma"]}}, "must be a site's origin: scheme and host"),
    ],
)
def test_mistakes_name_the_key_path(make_config, data, message) -> None:
    with pytest.raises(ConfigError) as info:
        make_config(**data)
    assert message in str(info.value)


def test_local_paths_resolve_against_the_config_folder(tmp_path: Path, make_config) -> None:
    (tmp_path / "feed.xml").write_text("<rss/>", encoding="utf-8")
    config = make_config(sources=[{"name": "local", "url": "feed.xml"}])
    assert config.resolve(config.sources[0].url) == str(tmp_path / "feed.xml")
    assert config.data_dir == tmp_path / "var"


def test_database_url_comes_from_the_environment_and_is_masked(monkeypatch, make_config) -> None:
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", "postgresql://news:s3cret@db.example/news")
    config = make_config(database={"url": "sqlite:///ignored.db"})
    assert config.database_url == "postgresql://news:s3cret@db.example/news"
    assert config_mod.safe_url(config.database_url) == "postgresql://news:***@db.example/news"


TEMPLATES = f'[paths]\ntemplates = "{ROOT / "templates"}"\n'


def _write(tmp_path: Path, text: str, *, templates: bool = True) -> Path:
    """newsletter.toml in tmp_path; `check` needs the templates, so they are the project's."""
    path = tmp_path / "newsletter.toml"
    path.write_text((TEMPLATES if templates else "") + text, encoding="utf-8")
    return path


def test_cli_bad_configuration_exits_2_naming_file_and_key(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[sources]]\nname = "a"\nurl = "https://x.example/f"\ninterval = "often"\n')
    result = CliRunner().invoke(cli, ["--config", str(path), "check"])
    assert result.exit_code == 2
    assert f"{path}: sources[0].interval: expected an integer" in result.output


def test_cli_invalid_toml_and_missing_file_exit_2(tmp_path: Path) -> None:
    path = _write(tmp_path, "[[sources]\nname=")
    result = CliRunner().invoke(cli, ["--config", str(path), "check"])
    assert result.exit_code == 2 and "invalid TOML" in result.output
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "nope.toml"), "check"])
    assert result.exit_code == 2 and "configuration file not found" in result.output


LISTS = """
[[lists]]
slug = "revue"
name = "Revue"
from_name = "Revue"
from_address = "revue@example.org"
tags = ["economie", "meteo"]
"""


def _check(tmp_path: Path, lists: str | None) -> tuple[int, str]:
    path = _write(tmp_path, '[[tags]]\nname = "economie"\nkeywords = ["banque"]\n')
    if lists is not None:
        (tmp_path / "subscribers").mkdir()
        (tmp_path / "subscribers" / "lists.toml").write_text(lists, encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(path), "check"], env={"COLUMNS": "300"})
    return result.exit_code, " ".join(result.output.split())


def test_check_validates_the_lists_and_warns_of_a_tag_nothing_gives(tmp_path: Path) -> None:
    code, out = _check(tmp_path, LISTS)
    assert code == 0 and "subscribers/lists.toml is valid" in out
    assert "revue │ fr │ economie, meteo │ 0 7 * * * (Africa/Casablanca) │ required │ none yet" in out
    assert "lists[0].tags[1]: 'meteo' (revue) is given by no tag rule and no source" in out
    assert "'economie' (revue)" not in out  # a tag rule gives it


def test_check_stops_on_a_bad_lists_file_and_says_when_there_is_none(tmp_path: Path) -> None:
    code, out = _check(tmp_path, LISTS.replace('"revue@example.org"', '"revue@"'))
    assert code == 2 and "lists.toml: lists[0].from_address: 'revue@' is not a valid email address" in out
    (tmp_path / "other").mkdir()
    code, out = _check(tmp_path / "other", None)
    assert code == 0 and "lists.toml not found: no list to send to" in out


@pytest.mark.parametrize(
    "delivery, base_url, warned",
    [
        ("smtp", "http://lettres.example.org", True),
        ("sendgrid", "https://lettres.example.org", False),
        ("outbox", "http://localhost:8000", False),  # nothing reaches a reader
    ],
)
def test_check_warns_when_mail_would_offer_no_one_click_unsubscribe(
    tmp_path: Path, delivery: str, base_url: str, warned: bool
) -> None:
    path = _write(tmp_path, f'[delivery]\nbackend = "{delivery}"\n[web]\nbase_url = "{base_url}"\n')
    result = CliRunner().invoke(cli, ["--config", str(path), "check"], env={"COLUMNS": "300"})
    out = " ".join(result.output.split())
    assert result.exit_code == 0, out
    assert (f"warning: {path}: web.base_url: '{base_url}' is not https" in out) is warned


def test_check_never_shows_a_password(tmp_path: Path, monkeypatch) -> None:
    path = _write(tmp_path, "")
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", "postgresql://news:s3cret@127.0.0.1:1/news")
    result = CliRunner().invoke(cli, ["--config", str(path), "check"])
    assert "s3cret" not in result.output
    assert "news:***@" in result.output


def test_readme_documents_every_configuration_key() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration reference", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([^`]+)` \|", section, re.M))
    declared = {path for path, *_ in config_mod.schema_keys()}
    assert declared == documented, f"missing: {declared - documented}, stale: {documented - declared}"


def test_readme_documents_every_list_key() -> None:
    from newsletter.audience.lists import ListConfig

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Lists reference", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([^`]+)` \|", section, re.M))
    declared = {path for path, *_ in config_mod.schema_keys(ListConfig, "lists[].")}
    assert declared == documented, f"missing: {declared - documented}, stale: {documented - declared}"


# -- values checked at load time, so `check` saying "valid" means the later commands work ----


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"delivery": {"smtp_port": 70000}}, "delivery.smtp_port: must be between 1 and 65535 (got 70000)"),
        ({"delivery": {"smtp_port": 0}}, "delivery.smtp_port: must be between 1 and 65535 (got 0)"),
        ({"delivery": {"smtp_timeout": 0}}, "delivery.smtp_timeout: must be more than 0 (got 0)"),
        ({"delivery": {"sendgrid_max_attempts": 0}}, "delivery.sendgrid_max_attempts: must be at least 1"),
        ({"delivery": {"batch_size": 1001}}, "delivery.batch_size: must be between 1 and 1000"),
        ({"summarize": {"llm_timeout": 0}}, "summarize.llm_timeout: must be more than 0"),
        ({"summarize": {"llm_max_retries": -1}}, "summarize.llm_max_retries: must be 0 or more (got -1)"),
        ({"summarize": {"max_words": 4}}, "summarize.max_words: must be at least 5"),
        ({"stories": {"window_days": -1}}, "stories.window_days: must be 0 or more"),
        ({"stories": {"threshold": 0}}, "stories.threshold: must be more than 0, at most 1"),
        ({"stories": {"threshold": 1.5}}, "stories.threshold: must be more than 0, at most 1"),
        ({"collect": {"teaser_words": -5}}, "collect.teaser_words: must be 0 or more (got -5)"),
        ({"tags": [{"name": "eco", "min_hits": 0}]}, "tags[0].min_hits: must be at least 1 (got 0)"),
        ({"sources": [{"name": "a", "url": "https://x.example/f", "interval": 0}]}, "sources[0].interval: must be at least 1"),
        ({"delivery": {"unsubscribe_mailto": "not an address"}}, "delivery.unsubscribe_mailto: 'not an address' is not a valid email address"),
        ({"sources": [{"name": "a", "url": "https://x.example/f", "language": "english"}]}, "sources[0].language: 'english' is not a language code"),
        ({"database": {"url": "mysql://news:s3cret@db/news"}}, "database.url: unsupported database 'mysql' (supported: sqlite"),
        ({"database": {"url": "foo"}}, "database.url: 'foo' is not a database URL"),
        ({"database": {"url": "postgresql+psycopg2://db/news"}}, "database.url: unsupported driver 'psycopg2'"),
    ],
)
def test_values_out_of_range_name_the_key(make_config, data, message) -> None:
    with pytest.raises(ConfigError) as info:
        make_config(**data)
    assert message in str(info.value)
    assert "s3cret" not in str(info.value)


def test_bounds_are_inclusive_where_they_say_so(make_config) -> None:
    config = make_config(
        delivery={"smtp_port": 65535, "smtp_rate": 0, "batch_size": 1000, "unsubscribe_mailto": "stop@example.org"},
        summarize={"llm_max_retries": 0}, collect={"teaser_words": 0},
        stories={"threshold": 1, "window_days": 0}, tags=[{"name": "eco", "min_hits": 1}],
        sources=[{"name": "a", "url": "https://x.example/f", "language": "pt-br"}],
        database={"url": "postgresql+psycopg://news@db/news"},
    )  # fmt: skip
    assert config.delivery.smtp_port == 65535 and config.stories.threshold == 1.0


def test_the_reference_gives_every_bound() -> None:
    rows = {path: text for path, _, _, text in config_mod.schema_keys()}
    assert rows["delivery.smtp_port"].endswith("Must be between 1 and 65535.")
    assert rows["summarize.llm_timeout"].endswith("Must be more than 0.")
    assert "Must be" not in rows["sources[].priority"]


def test_source_urls_fit_their_kind(tmp_path: Path, make_config) -> None:
    (tmp_path / "articles").mkdir()
    with pytest.raises(ConfigError, match=r"sources\[0\]\.url: a 'file' source reads local files"):
        make_config(sources=[{"name": "a", "kind": "file", "url": "http://x.example/a.json"}])
    with pytest.raises(ConfigError, match=r"sources\[0\]\.url: .*articles is a folder: a 'feed' source"):
        make_config(sources=[{"name": "a", "kind": "feed", "url": "articles"}])
    config = make_config(sources=[{"name": "a", "kind": "file", "url": "articles"}])  # a folder of files
    assert config.sources[0].kind == "file"


def test_a_missing_source_file_is_a_warning_not_an_error(tmp_path: Path, make_config) -> None:
    config = make_config(sources=[
        {"name": "gone", "kind": "file", "url": "imports/today"},
        {"name": "off", "kind": "file", "url": "old", "enabled": False},
    ])  # fmt: skip
    (found,) = config_mod.warnings(config)
    assert found.startswith(f"sources[0].url: file or folder not found: {tmp_path / 'imports' / 'today'}")


def test_check_warns_of_a_missing_source_file_and_other_commands_run(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[sources]]\nname = "gone"\nkind = "file"\nurl = "imports"\n')
    result = CliRunner().invoke(cli, ["--config", str(path), "check"], env={"COLUMNS": "300"})
    out = " ".join(result.output.split())
    assert result.exit_code == 0, out
    assert f"warning: {path}: sources[0].url: file or folder not found: {tmp_path / 'imports'}" in out
    assert CliRunner().invoke(cli, ["--config", str(path), "init"]).exit_code == 0
    result = CliRunner().invoke(cli, ["--config", str(path), "editions", "list"])
    assert result.exit_code == 0 and "no edition" in result.output


def test_paths_that_are_files_are_configuration_errors(tmp_path: Path, make_config) -> None:
    (tmp_path / "state").write_text("not a folder", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"paths\.data: .*state is a file, not a folder"):
        make_config(paths={"data": "state"})
    path = _write(tmp_path, '[paths]\ndata = "state"\n', templates=False)
    result = CliRunner().invoke(cli, ["--config", str(path), "init"])
    assert result.exit_code == 2 and "paths.data:" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://news:s3cret@db/news", "NEWSLETTER_DATABASE_URL: unsupported database 'mysql' (supported: sqlite"),
        ("foo", "NEWSLETTER_DATABASE_URL: 'foo' is not a database URL"),
    ],
)
def test_an_unusable_database_url_is_a_configuration_error(tmp_path: Path, url: str, message: str) -> None:
    path = _write(tmp_path, "")
    result = CliRunner().invoke(cli, ["--config", str(path), "init"], env={"NEWSLETTER_DATABASE_URL": url})
    assert result.exit_code == 2, result.output
    assert message in result.output and "postgresql://" in result.output
    assert "s3cret" not in result.output and "Traceback" not in result.output


def test_the_store_refuses_an_unusable_url_as_configuration(tmp_path: Path) -> None:
    from newsletter.store.db import make_engine

    with pytest.raises(ConfigError, match=r"unsupported database 'mysql' \(supported: sqlite") as refused:
        make_engine("mysql://news:s3cret@db/news")
    assert "s3cret" not in str(refused.value)
    with pytest.raises(ConfigError, match=r"unsupported driver 'psycopg2' for postgresql"):
        make_engine("postgresql+psycopg2://db/news")
    with pytest.raises(ConfigError, match="not a database URL"):
        make_engine("foo")
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        make_engine(f"sqlite:///{tmp_path / 'afile' / 'newsletter.db'}")


def test_a_missing_configuration_says_what_to_do_instead_of_init(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NEWSLETTER_CONFIG", raising=False)
    result = CliRunner().invoke(cli, ["init"])
    assert result.exit_code == 2
    assert "configuration file not found" in result.output
    assert "newsletter init" not in result.output  # init itself needs the file
    assert "copy the example newsletter.toml" in result.output
    assert "--config" in result.output and "NEWSLETTER_CONFIG" in result.output


def test_a_byte_order_mark_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "newsletter.toml"
    path.write_text('[summarize]\nmax_words = 40\n', encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert config_mod.load(path).summarize.max_words == 40


def test_check_prints_values_as_written_not_as_markup(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[tags]]\nname = "[b]eco[/b]"\nkeywords = ["banque"]\n')
    (tmp_path / "subscribers").mkdir()
    (tmp_path / "subscribers" / "lists.toml").write_text(
        LISTS.replace('tags = ["economie", "meteo"]', 'tags = ["[/x]", "meteo"]'), encoding="utf-8"
    )
    result = CliRunner().invoke(cli, ["--config", str(path), "check"], env={"COLUMNS": "300"})
    out = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert "1 tag rules: [b]eco[/b]" in out
    assert "revue │ fr │ [/x], meteo │" in out
    assert "'[/x]' (revue) is given by no tag rule" in out
    assert "add a [[tags]] rule for it" in out


def test_check_needs_the_templates_and_each_lists_template(tmp_path: Path) -> None:
    path = _write(tmp_path, '[paths]\ntemplates = "nowhere"\n', templates=False)
    result = CliRunner().invoke(cli, ["--config", str(path), "check"])
    assert result.exit_code == 2
    assert f"{path}: paths.templates: folder not found: {tmp_path / 'nowhere'}" in result.output
    (tmp_path / "fancy").mkdir()
    code, out = _check(tmp_path / "fancy", LISTS + 'template = "fancy"\n')
    assert code == 2
    assert "lists.toml: lists[0].template: no template folder" in out
    assert "edition templates there: default;" in out
