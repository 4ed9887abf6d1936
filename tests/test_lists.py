"""lists.toml: the sample is valid; each mistake names the file and key path; rows in the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from newsletter.audience.lists import ListConfig, find_list, load_lists, sync_lists
from newsletter.errors import ConfigError
from newsletter.store.db import Store
from newsletter.store.models import MailingList

from .conftest import ROOT

GOOD = """
[[lists]]
slug = "revue-fr"
name = "Revue"
tags = ["economie", "sport"]
from_name = "Revue"
from_address = "revue@example.org"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lists.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_sample_lists_load() -> None:
    lists = load_lists(ROOT / "subscribers" / "lists.toml")
    assert [lst.slug for lst in lists] == ["revue-fr", "digest-en", "nashra-ar"]
    revue, digest, nashra = lists
    assert revue.section_order == [
        "economie",
        "politique",
        "sport",
        "culture",
        "energie-climat",
        "transport",
    ]
    assert (revue.review, revue.schedule, revue.timezone) == (
        "required",
        "0 7 * * *",
        "Africa/Casablanca",
    )
    assert (revue.from_name, revue.from_address) == ("Revue de presse", "revue@example.org")
    assert (digest.language, digest.review) == ("en", "auto")
    assert (nashra.name, nashra.language) == ("النشرة", "ar")
    # Every tag of every list is a tag rule of the example configuration.
    from newsletter import config as config_mod

    rules = {r.name for r in config_mod.load(ROOT / "newsletter.toml").tags}
    assert all(set(lst.tags) <= rules for lst in lists)


def test_defaults(tmp_path: Path) -> None:
    (lst,) = load_lists(write(tmp_path, GOOD))
    assert lst == ListConfig(
        slug="revue-fr",
        name="Revue",
        from_name="Revue",
        from_address="revue@example.org",
        tags=["economie", "sport"],
    )
    assert (lst.language, lst.max_items, lst.review, lst.template) == (
        "fr",
        20,
        "required",
        "default",
    )
    assert (lst.schedule, lst.timezone, lst.lead_minutes, lst.send_empty) == (
        "0 7 * * *",
        "Africa/Casablanca",
        60,
        False,
    )
    assert lst.section_order == ["economie", "sport"]


def test_sections_first_then_other_tags(tmp_path: Path) -> None:
    (lst,) = load_lists(write(tmp_path, GOOD + 'sections = ["sport"]\n'))
    assert lst.section_order == ["sport", "economie"]


def test_section_titles_name_a_tag_in_the_list_language(tmp_path: Path) -> None:
    extra = 'sections = ["sport"]\nsection_titles = { sport = "Sports et loisirs" }\n'
    (lst,) = load_lists(write(tmp_path, GOOD + extra))
    assert lst.section_title("sport") == "Sports et loisirs"
    assert lst.section_title("economie") == "Économie"  # the built-in title, in French


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('reply_to = "nobody"\n', "lists[0].reply_to: 'nobody' is not a valid email address"),
        ('timezone = "Mars/Olympus"\n', "lists[0].timezone: unknown time zone 'Mars/Olympus'"),
        ('timezone = "/etc/passwd"\n', "lists[0].timezone: unknown time zone"),
        ('schedule = "0 7 * *"\n', "lists[0].schedule: '0 7 * *' has 4 fields"),
        ('schedule = "0 0 7 * * *"\n', "lists[0].schedule: '0 0 7 * * *' has 6 fields"),
        ('colour = "blue"\n', "lists[0].colour: unknown key"),
        ('review = "maybe"\n', "lists[0].review: 'maybe' is not one of 'required' or 'auto'"),
        ("max_items = 0\n", "lists[0].max_items: must be at least 1"),
        ('max_items = "ten"\n', "lists[0].max_items: expected an integer"),
        (
            'sections = ["culture"]\n',
            "lists[0].sections[0]: 'culture' is not one of the list's tags",
        ),
        ('exclude_tags = ["sport"]\n', "lists[0].exclude_tags: sport also in tags"),
        ("lead_minutes = -5\n", "lists[0].lead_minutes: must be 0 or more"),
        (
            'section_titles = { culture = "Culture" }\n',
            "lists[0].section_titles.culture: 'culture' is not one of the list's tags",
        ),
        ('section_titles = { sport = " " }\n', "lists[0].section_titles.sport: empty title"),
        (
            'section_titles = { sport = 3 }\n',
            "lists[0].section_titles.sport: expected a string, got 3",
        ),
        ('section_titles = ["Sport"]\n', "lists[0].section_titles: expected a table of strings"),
        # read as the daemon reads it, so the daemon never meets a schedule `check` let through
        ('schedule = "0 25 * * *"\n', "lists[0].schedule: '0 25 * * *': hour 25 is out of range 0-23"),
        ('schedule = "0 7 * * mon-fir"\n', "lists[0].schedule: '0 7 * * mon-fir': weekday 'fir' is not"),
        ('schedule = "0 7 * * fri-mon"\n', "lists[0].schedule: '0 7 * * fri-mon': weekday range"),
        ('language = "english"\n', "lists[0].language: 'english' is not a language code"),
        ('language = "xx"\n', "lists[0].language: 'xx' is not a language code"),
        ('template = "../web"\n', "lists[0].template: '../web' must be a folder name"),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, extra: str, message: str) -> None:
    path = write(tmp_path, GOOD + extra)
    with pytest.raises(ConfigError) as info:
        load_lists(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("replace", "by", "message"),
    [
        (
            'from_address = "revue@example.org"',
            'from_address = "revue@"',
            "lists[0].from_address: 'revue@' is not a valid email address",
        ),
        ('tags = ["economie", "sport"]', "tags = []", "lists[0].tags: give at least one tag"),
        ('tags = ["economie", "sport"]\n', "", "lists[0].tags: missing"),
        ('slug = "revue-fr"', 'slug = "Revue FR"', "lists[0].slug: 'Revue FR' must be lower-case"),
        (
            'tags = ["economie", "sport"]',
            'tags = ["economie", "economie"]',
            "lists[0].tags[1]: 'economie' is given twice",
        ),
    ],
)
def test_field_errors(tmp_path: Path, replace: str, by: str, message: str) -> None:
    path = write(tmp_path, GOOD.replace(replace, by))
    with pytest.raises(ConfigError, match="^" + str(path).replace("\\", "\\\\")) as info:
        load_lists(path)
    assert message in str(info.value)


def test_duplicate_slug(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + GOOD)
    with pytest.raises(ConfigError, match=r"lists\[1\]\.slug: 'revue-fr' is used by another list"):
        load_lists(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[lists.revue]\nname = 'x'\n", "lists: expected a list of tables"),
        ("[[list]]\nslug = 'x'\n", "list: unknown key"),
        ("[[lists]\n", "invalid TOML"),
    ],
)
def test_file_shape_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_lists(write(tmp_path, text))


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"lists\.toml: lists file not found \(create it"):
        load_lists(tmp_path / "lists.toml")


def test_find_list_names_the_known_ones(tmp_path: Path) -> None:
    lists = load_lists(ROOT / "subscribers" / "lists.toml")
    assert find_list(lists, "digest-en").language == "en"
    with pytest.raises(
        ConfigError, match=r"no list named 'nope'.*known: revue-fr, digest-en, nashra-ar"
    ):
        find_list(lists, "nope")


def test_sync_lists_creates_then_updates(store: Store) -> None:
    lists = load_lists(ROOT / "subscribers" / "lists.toml")
    with store.session() as session:
        rows = sync_lists(session, lists)
        assert list(rows) == ["revue-fr", "digest-en", "nashra-ar"]
        ids = {slug: row.id for slug, row in rows.items()}
    lists[0].name = "Revue du matin"
    with store.session() as session:
        rows = sync_lists(session, lists)
        assert {slug: row.id for slug, row in rows.items()} == ids
    with store.session() as session:
        stored: dict[str, Any] = {
            r.slug: (r.name, r.language) for r in session.scalars(select(MailingList))
        }
    assert stored == {
        "revue-fr": ("Revue du matin", "fr"),
        "digest-en": ("Morocco Business Digest", "en"),
        "nashra-ar": ("النشرة", "ar"),
    }


@pytest.mark.parametrize("schedule", ["0 7 * * 7", "30 6 * * mon-fri", "0 7 1 * mon", "*/15 6-8 * * 1-5"])
def test_schedules_cron_accepts_load(tmp_path: Path, schedule: str) -> None:
    (lst,) = load_lists(write(tmp_path, GOOD + f'schedule = "{schedule}"\ntimezone = "Europe/Paris"\n'))
    assert lst.schedule == schedule


def test_the_template_is_checked_when_the_templates_folder_is_given(tmp_path: Path) -> None:
    templates = ROOT / "templates"
    (lst,) = load_lists(write(tmp_path, GOOD), templates)
    assert lst.template == "default"
    path = write(tmp_path, GOOD + 'template = "fancy"\n')
    assert load_lists(path)[0].template == "fancy"  # without the folder, only the name is checked
    with pytest.raises(ConfigError) as info:
        load_lists(path, templates)
    assert f"lists[0].template: no template folder {templates / 'email' / 'fancy'}" in str(info.value)
    assert "edition templates there: default;" in str(info.value)  # confirm/ is no edition's
    incomplete = tmp_path / "templates" / "email" / "fancy"
    incomplete.mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"lists\[0\]\.template: email template file not found"):
        load_lists(path, tmp_path / "templates")


def test_a_byte_order_mark_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "lists.toml"
    path.write_text(GOOD, encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert [lst.slug for lst in load_lists(path)] == ["revue-fr"]
