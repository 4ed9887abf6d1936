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
        ({"sources": [{"name": "a", "url": "missing.xml"}]}, "sources[0].url: file not found"),
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


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "newsletter.toml"
    path.write_text(text, encoding="utf-8")
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
