"""Subscriber files and sync: bad rows reported by line, good rows loaded, consent always wins."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from newsletter.audience.lists import ListConfig, load_lists, sync_lists
from newsletter.audience.subscribers import (
    Member,
    RowError,
    export_members,
    forget,
    import_file,
    normalise_email,
    read_members,
    sync_all,
    sync_members,
)
from newsletter.errors import InputError
from newsletter.store.db import Store
from newsletter.store.models import MailingList, Membership, Subscriber, Suppression

from .conftest import ROOT


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    """The key the suppression list is hashed with."""
    value = "a-test-secret-that-is-long-enough"
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", value)
    return value


def write(tmp_path: Path, text: str, name: str = "news.csv", *, bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def make_list(session, slug: str = "news") -> MailingList:  # type: ignore[no-untyped-def]
    lst = ListConfig(
        slug=slug, name="News", from_name="News", from_address="news@example.org", tags=["x"]
    )
    return sync_lists(session, [lst])[slug]


def members(store: Store, slug: str = "news") -> dict[str, tuple[str, str, str]]:
    with store.session() as session:
        rows = session.execute(
            select(Subscriber.email, Subscriber.name, Subscriber.language, Membership.status)
            .join(Membership, Membership.subscriber_id == Subscriber.id)
            .join(MailingList, MailingList.id == Membership.list_id)
            .where(MailingList.slug == slug)
        )
        return {email: (name, language, status) for email, name, language, status in rows}


def set_status(store: Store, email: str, status: str) -> None:
    with store.session() as session:
        sid = session.scalar(select(Subscriber.id).where(Subscriber.email == email))
        session.execute(
            update(Membership).where(Membership.subscriber_id == sid).values(status=status)
        )


# -- addresses and files ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Alice@Example.ORG ", "Alice@example.org"),
        ("jose\u0301@example.org", "jos\u00e9@example.org"),  # NFC
        ("bob@EXAMPLE.ma", "bob@example.ma"),
    ],
)
def test_normalise_email(raw: str, expected: str) -> None:
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "   ", "nobody", "a@b", "two..dots@example.org", "x@@example.org"]
)
def test_normalise_email_refuses(raw: str) -> None:
    with pytest.raises(InputError):
        normalise_email(raw)


def test_invalid_rows_reported_with_physical_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "email,name,language\n"
        "ok1@example.org,One,fr\n"
        "\n"  # blank line 3: skipped, still counted
        "broken,Two,fr\n"
        'ok2@example.org,"Three\non two lines",en\n'  # lines 5-6
        "also broken@,Four,\n"
        "ok3@example.org,,\n",
    )
    found, problems = read_members(path)
    assert [(m.email, m.name, m.language, m.line) for m in found] == [
        ("ok1@example.org", "One", "fr", 2),
        ("ok2@example.org", "Three on two lines", "en", 5),
        ("ok3@example.org", "", "", 8),
    ]
    assert [(p.line, p.warning) for p in problems] == [(4, False), (7, False)]
    assert str(problems[0]).startswith(f"{path}:4: invalid email address 'broken'")


def test_bom_and_semicolons(tmp_path: Path) -> None:
    path = write(
        tmp_path, "Email;Name;Language\r\nhélène@example.org;Hélène, Lefèvre;FR\r\n", bom=True
    )
    found, problems = read_members(path)
    assert problems == []
    assert found == [Member("hélène@example.org", "Hélène, Lefèvre", "fr", 2)]


def test_duplicates_merged_later_values_win(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "email,name,language\n"
        "sam@example.org,Sam,\n"
        "other@example.org,Other,fr\n"
        " SAM@example.org,,\n"  # another case of the local part: the same person
        "sam@EXAMPLE.org,Samuel,en\n",
    )
    found, problems = read_members(path)
    assert [(m.email, m.name, m.language, m.line) for m in found] == [
        ("sam@example.org", "Samuel", "en", 2),  # the spelling first given
        ("other@example.org", "Other", "fr", 3),
    ]
    assert [str(p) for p in problems] == [
        f"{path}:4: warning: SAM@example.org already on line 2 as sam@example.org: merged",
        f"{path}:5: warning: sam@example.org already on line 2: merged",
    ]


def test_unknown_columns_warn_once(tmp_path: Path) -> None:
    path = write(tmp_path, "name,email,city\nAda,ada@example.org,Fès\nBo,bo@example.org,Rabat\n")
    found, problems = read_members(path)
    assert [m.email for m in found] == ["ada@example.org", "bo@example.org"]
    assert [(p.line, p.warning, p.reason) for p in problems] == [
        (1, True, "ignored unknown column(s): city")
    ]


@pytest.mark.parametrize(
    ("header", "row", "expected"),
    [
        # Mailchimp's audience export
        ('"Email Address","First Name","Last Name","Phone Number"',
         '"nadia@example.org","Nadia","El Amrani",""', ("nadia@example.org", "Nadia El Amrani", "")),
        # Brevo's, French account, semicolons
        ("EMAIL;PRENOM;NOM;LANGUE", "karim@example.org;Karim;Benali;FR",
         ("karim@example.org", "Karim Benali", "fr")),
        # a hand-made file
        ("Courriel,Prénom,Nom complet", "ines@example.org,Inès,Inès Tazi",
         ("ines@example.org", "Inès Tazi", "")),  # the full name wins over the parts
        ("E-mail,Nom", "sara@example.org,Sara Alaoui", ("sara@example.org", "Sara Alaoui", "")),
    ],
)
def test_the_headers_other_tools_export_are_understood(
    tmp_path: Path, header: str, row: str, expected: tuple[str, str, str]
) -> None:
    found, problems = read_members(write(tmp_path, f"{header}\n{row}\n"))
    assert [(m.email, m.name, m.language) for m in found] == [expected]
    unknown = [p.reason for p in problems]
    assert unknown == (["ignored unknown column(s): phone number"] if "Phone" in header else [])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"mail,name\nx@example.org,X\n",
            r":1: no 'email' column in the header row \(found: 'mail', 'name'\)",
        ),
        (b"", r":1: empty file"),
        (b"email\nok@example.org\nbad\xff@example.org\n", r":3: not UTF-8 text"),
    ],
)
def test_unreadable_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=r"list\.csv" + message):
        read_members(path)


# -- sync -------------------------------------------------------------------------------------


def test_sync_adds_then_updates_then_changes_nothing(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "email,name\na@example.org,Ann\nb@example.org,Ben\nnope,Bad\n")
    with store.session() as session:
        report = import_file(session, path, make_list(session))
    assert (report.added, report.updated, report.unchanged, report.kept_suppressed) == (2, 0, 0, 0)
    assert [str(e) for e in report.errors] == [
        f"{path}:4: invalid email address 'nope': An email address must have an @-sign."
    ]
    assert members(store) == {
        "a@example.org": ("Ann", "", "active"),
        "b@example.org": ("Ben", "", "active"),
    }

    write(
        tmp_path,
        "email,name,language\na@example.org,Anne,fr\nb@example.org,,\nc@example.org,Cy,en\n",
    )
    with store.session() as session:
        report = import_file(session, path, make_list(session))
    assert (report.added, report.updated, report.unchanged) == (1, 1, 1)
    expected = {
        "a@example.org": ("Anne", "fr", "active"),
        "b@example.org": ("Ben", "", "active"),  # an empty name keeps the known one
        "c@example.org": ("Cy", "en", "active"),
    }
    assert members(store) == expected

    with store.session() as session:
        report = import_file(session, path, make_list(session))
    assert (report.added, report.updated, report.unchanged, report.kept_suppressed) == (0, 0, 3, 0)
    assert members(store) == expected


@pytest.mark.parametrize("status", ["unsubscribed", "bounced", "complained"])
def test_consent_wins_over_the_file(store: Store, tmp_path: Path, status: str) -> None:
    path = write(tmp_path, "email,name\na@example.org,Ann\nb@example.org,Ben\n")
    with store.session() as session:
        import_file(session, path, make_list(session))
    set_status(store, "a@example.org", status)
    write(tmp_path, "email,name\na@example.org,Ann Again\nb@example.org,Ben\n")
    with store.session() as session:
        report = import_file(session, path, make_list(session))
    assert (report.added, report.updated, report.unchanged, report.kept_suppressed) == (0, 0, 1, 1)
    assert members(store)["a@example.org"] == ("Ann", "", status)


def test_pending_becomes_active_and_other_lists_are_separate(store: Store) -> None:
    with store.session() as session:
        news, other = make_list(session), make_list(session, "other")
        sync_members(session, news, [Member("p@example.org", "Pat")], "form")
        sync_members(session, other, [Member("p@example.org")], "form")
    set_status(store, "p@example.org", "pending")
    with store.session() as session:
        news = make_list(session)
        report = sync_members(session, news, [Member("p@example.org")], "csv:news.csv")
    assert (report.added, report.updated) == (0, 1)
    assert members(store) == {"p@example.org": ("Pat", "", "active")}
    assert members(store, "other") == {"p@example.org": ("Pat", "", "pending")}


def test_forget_then_import_keeps_the_address_out(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "email,name\ngone@example.org,Gone Person\nstay@example.org,Stay\n")
    with store.session() as session:
        import_file(session, path, make_list(session))
        make_list(session, "other")
    with store.session() as session:
        assert forget(session, " gone@EXAMPLE.org") == 1
    assert members(store) == {"stay@example.org": ("Stay", "", "active")}
    with store.session() as session:
        news, other = make_list(session), make_list(session, "other")
        report = import_file(session, path, news)
        assert (report.added, report.unchanged, report.kept_suppressed) == (0, 1, 1)
        report = import_file(session, path, other)  # never on that list: still not added
        assert (report.added, report.kept_suppressed) == (1, 1)
    assert "gone@example.org" not in members(store)
    assert list(members(store, "other")) == ["stay@example.org"]
    with store.session() as session:
        assert session.scalar(select(Subscriber.id).where(Subscriber.email.like("%gone%"))) is None
        assert forget(session, "gone@example.org") == 0  # already forgotten: nothing more


def test_forget_an_unknown_address_blocks_later_imports(store: Store) -> None:
    with store.session() as session:
        assert forget(session, "never@example.org") == 0
        report = sync_members(session, make_list(session), [Member("never@example.org")], "csv")
    assert (report.added, report.kept_suppressed) == (0, 1)


def test_sync_all_with_the_sample_files(store: Store) -> None:
    lists = load_lists(ROOT / "subscribers" / "lists.toml")
    with store.session() as session:
        reports = sync_all(session, lists, ROOT / "subscribers")
    by_slug = {r.list_slug: r for r in reports}
    assert (by_slug["revue-fr"].added, len(by_slug["revue-fr"].errors)) == (6, 1)
    assert by_slug["revue-fr"].errors[0].line == 7
    assert by_slug["digest-en"].added == 3
    assert by_slug["nashra-ar"].added == 3
    assert members(store, "nashra-ar")["omar.alaoui@example.ma"] == ("عمر العلوي", "ar", "active")
    assert members(store, "revue-fr")["helene.lefevre@example.org"][0] == "Hélène Lefèvre"
    with store.session() as session:
        again = sync_all(session, lists, ROOT / "subscribers")
    assert [(r.added, r.updated, r.unchanged) for r in again] == [(0, 0, 6), (0, 0, 3), (0, 0, 3)]


def test_sync_all_reports_missing_and_broken_files(store: Store, tmp_path: Path) -> None:
    def lst(slug: str) -> ListConfig:
        return ListConfig(
            slug=slug, name=slug, from_name="N", from_address="n@example.org", tags=["x"]
        )

    write(tmp_path, "mail\nx@example.org\n", "broken.csv")
    write(tmp_path, "email\nok@example.org\n", "good.csv")
    with store.session() as session:
        empty, broken, good = sync_all(
            session, [lst("empty"), lst("broken"), lst("good")], tmp_path
        )
    assert (empty.path, empty.errors, empty.summary()) == (
        None,
        [],
        "empty: no member file, nothing to sync",
    )
    assert [(e.line, "no 'email' column" in e.reason) for e in broken.errors] == [(1, True)]
    assert good.added == 1
    assert good.summary() == "good: 1 added, 0 updated, 0 unchanged, 0 kept suppressed"


def test_sync_all_keeps_the_first_lists_name_and_language(store: Store, tmp_path: Path) -> None:
    def lst(slug: str) -> ListConfig:
        return ListConfig(
            slug=slug, name=slug, from_name="N", from_address="n@example.org", tags=["x"]
        )

    write(tmp_path, "email,name,language\nam@example.org,Amina,fr\n", "one.csv")
    write(tmp_path, "email,name,language\nam@example.org,Amina B.,en\n", "two.csv")
    lists = [lst("one"), lst("two")]
    with store.session() as session:
        _, two = sync_all(session, lists, tmp_path)
    where = f"{tmp_path / 'two.csv'}:2: warning: am@example.org:"
    assert [str(w) for w in two.warnings] == [
        f"{where} name 'Amina B.' differs from 'Amina' in one.csv; keeping 'Amina'",
        f"{where} language 'en' differs from 'fr' in one.csv; keeping 'fr'",
    ]
    with store.session() as session:
        again = sync_all(session, lists, tmp_path)
    assert [(r.added, r.updated, r.unchanged) for r in again] == [(0, 0, 1), (0, 0, 1)]
    assert members(store, "two") == {"am@example.org": ("Amina", "fr", "active")}


def test_export_rows(store: Store, tmp_path: Path) -> None:
    with store.session() as session:
        news, other = make_list(session), make_list(session, "other")
        sync_members(
            session, news, [Member("b@example.org", "Bé", "fr"), Member("a@example.org")], "csv"
        )
        sync_members(session, other, [Member("a@example.org")], "csv")
    set_status(store, "b@example.org", "bounced")
    with store.session() as session:
        rows = list(export_members(session, None))
        only = list(export_members(session, "other"))
        with pytest.raises(InputError, match="no list 'nope' in the store"):
            list(export_members(session, "nope"))
    assert [(r["list"], r["email"], r["name"], r["language"], r["status"]) for r in rows] == [
        ("news", "a@example.org", "", "", "active"),
        ("news", "b@example.org", "Bé", "fr", "bounced"),
        ("other", "a@example.org", "", "", "active"),
    ]
    assert list(rows[0]) == ["list", "email", "name", "language", "status", "since"]
    assert rows[0]["since"].endswith("+00:00")
    assert [r["email"] for r in only] == ["a@example.org"]


def test_many_rows_in_few_queries(store: Store, tmp_path: Path) -> None:
    from sqlalchemy import event

    rows = "".join(f"user{i}@example.org,User {i}\n" for i in range(3000))
    path = write(tmp_path, "email,name\n" + rows)
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        with store.session() as session:
            report = import_file(session, path, make_list(session))
        assert report.added == 3000
        first = len(statements)
        with store.session() as session:
            report = import_file(session, path, make_list(session))
        assert report.unchanged == 3000
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert first < 60  # lookups by chunks of 500, multi-row inserts: not one query per row
    assert len(statements) - first < 40


def test_row_error_text() -> None:
    assert str(RowError("a.csv", 3, "bad")) == "a.csv:3: bad"
    assert str(RowError("a.csv", 1, "odd", warning=True)) == "a.csv:1: warning: odd"


def test_forget_again_after_another_way_back_in(store: Store) -> None:
    with store.session() as session:
        forget(session, "back@example.org")
        news = make_list(session)
        # e.g. a later sign-up form: the address exists again next to its stand-in
        sub = Subscriber(email="back@example.org", name="Back", language="")
        session.add(sub)
        session.flush()
        session.add(Membership(list_id=news.id, subscriber_id=sub.id, status="active"))
    with store.session() as session:
        assert forget(session, "back@example.org") == 1
    assert members(store) == {}
    with store.session() as session:
        assert list(session.scalars(select(Subscriber.email))) == []
        assert session.scalar(select(func.count()).select_from(Suppression)) == 1


def test_suppression_list_read_with_another_key_is_refused(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsletter.errors import ConfigError

    with store.session() as session:
        forget(session, "gone@example.org")
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "another-secret-that-is-long-enough")
    with store.session() as session, pytest.raises(ConfigError, match="another NEWSLETTER_SECRET_KEY"):
        sync_members(session, make_list(session), [Member("gone@example.org")], "csv")
    monkeypatch.delenv("NEWSLETTER_SECRET_KEY")
    with store.session() as session, pytest.raises(ConfigError, match="set NEWSLETTER_SECRET_KEY"):
        sync_members(session, make_list(session), [Member("gone@example.org")], "csv")


# -- an address in any case is one person -----------------------------------------------------


def subscribers_of(store: Store) -> list[str]:
    with store.session() as session:
        return list(session.scalars(select(Subscriber.email).order_by(Subscriber.id)))


def test_an_address_in_another_case_is_the_same_person(store: Store, tmp_path: Path) -> None:
    from newsletter.audience import consent

    # A Mailchimp export with the same reader twice: one mail each morning, not two.
    path = write(
        tmp_path,
        '"Email Address","First Name","Last Name","MEMBER_RATING"\n'
        '"mc1@example.org","Mona","Chafik","2"\n'
        '"MC1@example.org","","","5"\n'
        '"mc2@example.org","Ali","Idrissi","1"\n',
    )
    with store.session() as session:
        report = import_file(session, path, make_list(session))
    assert (report.added, report.updated, report.unchanged) == (2, 0, 0)
    assert members(store) == {
        "mc1@example.org": ("Mona Chafik", "", "active"),
        "mc2@example.org": ("Ali Idrissi", "", "active"),
    }
    with store.session() as session:
        news, other = make_list(session), make_list(session, "other")
        report = sync_members(session, news, [Member("Mc2@Example.ORG", "Ali I.")], "csv:b.csv")
        assert (report.added, report.updated) == (0, 1)
        report = sync_members(session, other, [Member("MC2@example.org")], "csv:c.csv")
        assert report.added == 1
        # the sign-up form, with the address typed in capitals: already active, nothing sent
        assert consent.request_subscription(
            session, news, "MC1@EXAMPLE.ORG", secret="a-test-secret-that-is-long-enough"
        ) is None
        assert consent.subscriber_by_address(session, " Mc1@example.org ").email == (
            "mc1@example.org"
        )
    # one row per person, under the spelling first given; mail goes there
    assert subscribers_of(store) == ["mc1@example.org", "mc2@example.org"]
    assert members(store, "other") == {"mc2@example.org": ("Ali I.", "", "active")}


def test_forget_in_any_case(store: Store, tmp_path: Path) -> None:
    from newsletter.audience import consent

    path = write(
        tmp_path,
        "email,name\nyoussef.tazi@example.com,Youssef\nhelene.lefevre@example.org,Hélène\n",
    )
    with store.session() as session:
        import_file(session, path, make_list(session))
    with store.session() as session:
        assert forget(session, "YOUSSEF.TAZI@example.com") == 1
        assert forget(session, "helene.lefevre@example.org") == 1
    assert members(store) == {}
    write(tmp_path, "email\nYoussef.Tazi@example.com\nHelene.Lefevre@example.org\n")
    with store.session() as session:
        news = make_list(session)
        report = import_file(session, path, news)
        assert (report.added, report.kept_suppressed) == (0, 2)
        assert consent.request_subscription(
            session, news, "HELENE.lefevre@example.org", secret="a-test-secret-that-is-long-enough"
        ) is None
    assert subscribers_of(store) == []


def _hashed_before_revision_0010(secret: str, spelling: str) -> Suppression:
    """A suppression as `forget SPELLING` wrote it before addresses were compared without case."""
    import hashlib
    import hmac

    def mac(message: bytes) -> str:
        return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()

    return Suppression(address_hash=mac(b"suppression\x00" + spelling.encode()),
                       key_id=mac(b"suppression-key-id")[:16], reason="forgotten")


def test_suppressions_hashed_before_the_change_still_hold(store: Store, secret: str) -> None:
    import hashlib

    with store.session() as session:
        session.add(_hashed_before_revision_0010(secret, "Helene.Lefevre@example.org"))
        session.add(_hashed_before_revision_0010(secret, "karim@example.ma"))
        # and an unkeyed one, from before revision 0004
        session.add(Suppression(address_hash=hashlib.sha256(b"OMAR@example.ma").hexdigest(),
                                key_id="sha256", reason="forgotten"))
    spellings = ["Helene.Lefevre@example.org", "helene.lefevre@example.org",
                 "HELENE.LEFEVRE@example.org", "Karim@example.ma", "omar@example.ma",
                 "Omar@example.ma", "free@example.org"]
    for spelling in spellings:
        with store.session() as session:
            report = sync_members(session, make_list(session), [Member(spelling)], "csv")
        assert report.kept_suppressed == (spelling != "free@example.org"), spelling
    # Found once, the address is suppressed in every spelling from then on.
    with store.session() as session:
        report = sync_members(
            session, make_list(session),
            [Member("hElEnE.lefevre@example.org"), Member("kArIm@example.ma"),
             Member("oMaR@example.ma")],
            "csv",
        )
    assert (report.added, report.kept_suppressed) == (0, 3)
    assert list(members(store)) == ["free@example.org"]


def test_forgetting_again_suppresses_every_spelling(store: Store, secret: str) -> None:
    with store.session() as session:
        session.add(_hashed_before_revision_0010(secret, "Nadia.Chraibi@example.ma"))
    with store.session() as session:
        assert forget(session, "Nadia.Chraibi@example.ma") == 0
        report = sync_members(session, make_list(session), [Member("nAdIa.chraibi@example.ma")],
                              "csv")
    assert report.kept_suppressed == 1


def test_forget_scrubs_provider_events_in_any_case(store: Store) -> None:
    from newsletter.store.models import ProviderEvent

    with store.session() as session:
        session.add(ProviderEvent(provider="sendgrid", event_id="e1", type="bounce",
                                  email=" Gone.Person@Example.org", payload={"x": 1}))
        session.add(ProviderEvent(provider="sendgrid", event_id="e2", type="bounce",
                                  email="stay@example.org", payload={"x": 2}))
    with store.session() as session:
        forget(session, "gone.person@example.org")
    with store.session() as session:
        rows = session.execute(select(ProviderEvent.email, ProviderEvent.payload)
                               .order_by(ProviderEvent.event_id)).all()
    assert [tuple(r) for r in rows] == [("", {}), ("stay@example.org", {"x": 2})]


def test_a_provider_event_finds_the_person_in_any_case(store: Store) -> None:
    from newsletter.audience.events import record_events

    with store.session() as session:
        sync_members(session, make_list(session), [Member("ana.ruiz@example.org")], "csv")
    with store.session() as session:
        record_events(session, [{"event": "spamreport", "email": "Ana.Ruiz@example.org",
                                 "sg_event_id": "s1"}])
    assert members(store)["ana.ruiz@example.org"][2] == "complained"


# -- the command line -------------------------------------------------------------------------


@pytest.fixture
def sync_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A configuration whose store is in tmp_path and whose lists are in tmp_path/subscribers."""
    folder = tmp_path / "subscribers"
    folder.mkdir()
    (folder / "lists.toml").write_text(
        "".join(
            f'[[lists]]\nslug = "{slug}"\nname = "{slug}"\nlanguage = "fr"\ntags = ["x"]\n'
            f'from_name = "N"\nfrom_address = "n@example.org"\n\n'
            for slug in ("alpha", "beta", "gamma", "delta")
        ),
        encoding="utf-8",
    )
    path = tmp_path / "newsletter.toml"
    path.write_text(
        f'[paths]\ndata = "{tmp_path}"\nsubscribers = "{folder}"\n', encoding="utf-8"
    )
    monkeypatch.delenv("NEWSLETTER_DATABASE_URL", raising=False)
    return path


def newsletter(config: Path, *args: str):  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from newsletter.cli import cli

    return CliRunner().invoke(cli, ["--config", str(config), *args])


def test_sync_prints_every_warning(sync_config: Path) -> None:
    folder = sync_config.parent / "subscribers"
    write(folder, "Email Address,First Name,MEMBER_RATING\n"
                  "mc1@example.org,Mona,2\nMC1@example.org,,5\nbad,X,1\n", "alpha.csv")
    write(folder, "email,name\nmc1@example.org,Mona C.\n", "beta.csv")
    write(folder, "email\nok@example.org\n", "gamma.csv")
    assert newsletter(sync_config, "init").exit_code == 0
    result = newsletter(sync_config, "subscribers", "sync")
    assert result.exit_code == 0, result.output
    alpha, beta = folder / "alpha.csv", folder / "beta.csv"
    assert result.stderr.splitlines() == [
        f"{alpha}:1: warning: ignored unknown column(s): member_rating",
        f"{alpha}:3: warning: MC1@example.org already on line 2 as mc1@example.org: merged",
        f"{alpha}:4: invalid email address 'bad': An email address must have an @-sign.",
        f"{beta}:2: warning: mc1@example.org: name 'Mona C.' differs from 'Mona' in alpha.csv; "
        "keeping 'Mona'",
        f"{folder / 'delta.csv'}: warning: no members file for list 'delta': nothing to sync",
    ]
    # the table: alpha added one person (the second row is the same person), one row rejected
    rows = [[cell.strip() for cell in line.split("│")[1:7]]
            for line in result.stdout.splitlines() if "alpha" in line]
    assert rows == [["alpha", "1", "0", "0", "0", "1"]]


def test_sync_fails_on_a_file_it_cannot_read_after_syncing_the_others(sync_config: Path) -> None:
    folder = sync_config.parent / "subscribers"
    write(folder, "mail,name\nx@example.org,X\n", "alpha.csv")
    write(folder, "email\nok@example.org\n", "beta.csv")
    write(folder, "email\n", "gamma.csv")
    write(folder, "email\nd@example.org\n", "delta.csv")
    assert newsletter(sync_config, "init").exit_code == 0
    result = newsletter(sync_config, "subscribers", "sync")
    assert result.exit_code == 1
    alpha = folder / "alpha.csv"
    assert result.stderr.splitlines() == [
        f"{alpha}:1: no 'email' column in the header row (found: 'mail', 'name'): "
        "file not read, list alpha unchanged",
        f"Error: members file not read: {alpha}; fix it and run 'newsletter subscribers sync' "
        "again (the other lists were synced)",
    ]
    assert "file not read" in result.stdout
    exported = newsletter(sync_config, "subscribers", "export")
    assert exported.exit_code == 0
    assert [row.split(",")[:2] for row in exported.stdout.splitlines()[1:]] == [
        ["beta", "ok@example.org"], ["delta", "d@example.org"]
    ]
    # `import` of the same file fails the same way
    result = newsletter(sync_config, "subscribers", "import", str(alpha), "--list", "alpha")
    assert result.exit_code == 1 and "no 'email' column" in result.stderr


def test_sync_all_reports_an_unreadable_file_as_such(store: Store, tmp_path: Path) -> None:
    lst = ListConfig(slug="news", name="N", from_name="N", from_address="n@example.org",
                     tags=["x"])
    path = write(tmp_path, "mail\nx@example.org\n")
    with store.session() as session:
        (report,) = sync_all(session, [lst], tmp_path)
    assert report.file_error is not None and report.errors == [report.file_error]
    assert report.summary() == (
        f"news: file not read, nothing synced ({path}:1: no 'email' column in the header row "
        "(found: 'mail'))"
    )
