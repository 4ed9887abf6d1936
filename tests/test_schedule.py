"""List schedules: cron fields with the usual meaning, per-list time zones, DST and Ramadan time.

Every expected instant is written in UTC, so a test cannot agree with the code by sharing its
time-zone arithmetic. No test waits: "now" is always given.
"""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from newsletter.audience.lists import ListConfig
from newsletter.errors import ConfigError
from newsletter.schedule import ListSchedule, fire_times, parse_cron

PARIS = ZoneInfo("Europe/Paris")
CASABLANCA = ZoneInfo("Africa/Casablanca")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _list(schedule: str = "0 7 * * *", tz: str = "Africa/Casablanca", lead: int = 60) -> ListConfig:
    return ListConfig(
        slug="revue", name="Revue", from_name="Revue", from_address="revue@example.org",
        tags=["eco"], schedule=schedule, timezone=tz, lead_minutes=lead,
    )


def sends(schedule: str, tz: str, now: datetime, count: int) -> list[datetime]:
    return [t.astimezone(UTC) for t in fire_times(ListSchedule.of(_list(schedule, tz)).send, now, count)]


# -- the fields ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weekday", "expected"),
    [
        ("0", ["sun"]), ("7", ["sun"]), ("1", ["mon"]), ("6", ["sat"]),
        ("1-5", ["mon", "tue", "wed", "thu", "fri"]), ("mon-fri", ["mon", "tue", "wed", "thu", "fri"]),
        ("0,6", ["sun", "sat"]), ("5-7", ["fri", "sat", "sun"]), ("*/2", ["sun", "tue", "thu", "sat"]),
        ("SUN", ["sun"]),
    ],
)
def test_weekdays_have_the_usual_cron_meaning(weekday: str, expected: list[str]) -> None:
    """0 and 7 are Sunday, 1 is Monday (APScheduler's own numbering would shift them by a day)."""
    # 2026-03-01 is a Sunday; a week of 07:00 Paris sends, as weekday names
    times = sends(f"0 7 * * {weekday}", "Europe/Paris", utc(2026, 3, 1), 7)
    names = [t.astimezone(PARIS).strftime("%a").lower() for t in times]
    assert set(names) == set(expected)
    assert all(t.astimezone(PARIS).hour == 7 for t in times)


def test_fields_ranges_steps_lists_and_names() -> None:
    spec = parse_cron("*/20 6-8/2 1,15 jan-mar *")
    assert spec.minute == (0, 20, 40) and spec.hour == (6, 8)
    assert spec.day == (1, 15) and spec.month == (1, 2, 3) and spec.weekday is None
    assert parse_cron("5/20 * * * *").minute == (5, 25, 45)  # "a/n": from a to the end
    assert parse_cron("0 7 * * 0-7").weekday is None  # every day is "*"


def test_day_and_weekday_both_restricted_match_either() -> None:
    """``0 7 13 * 5``: the 13th of each month *and* every Friday, as crontab(5) says."""
    days = [t.astimezone(PARIS).date() for t in sends("0 7 13 * 5", "Europe/Paris", utc(2026, 3, 1), 5)]
    assert days == [date(2026, 3, 6), date(2026, 3, 13), date(2026, 3, 20), date(2026, 3, 27), date(2026, 4, 3)]
    # with either one a "*", both must match (the 13th only when it is a Friday)
    only_friday_13 = sends("0 7 */1 * 5", "Europe/Paris", utc(2026, 3, 1), 2)
    assert [t.date() for t in only_friday_13] == [date(2026, 3, 6), date(2026, 3, 13)]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 7 * * 8", "weekday 8 is out of range 0-7 (0 and 7 are Sunday)"),
        ("60 7 * * *", "minute 60 is out of range 0-59"),
        ("0 7 0 * *", "day 0 is out of range 1-31"),
        ("0 7 * 13 *", "month 13 is out of range 1-12"),
        ("0 7 * * fri-mon", "weekday range 'fri-mon' goes backwards"),
        ("0 7 * * monday", "weekday 'monday' is not a number or a name (sun..sat)"),
        ("0 7 * *", "4 fields, a cron expression needs 5"),
        ("0 7 * * 1/0", "weekday step in '1/0' must be at least 1"),
        ("0 7,, * * *", "hour '' is not a value, range or step"),
    ],
)
def test_bad_schedules_name_the_list_and_the_field(expression: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        ListSchedule.of(_list(expression))
    assert str(error.value).startswith(f"list 'revue': schedule {expression!r}: ")
    assert message in str(error.value)


def test_the_trigger_carries_the_list_time_zone_and_pickles() -> None:
    schedule = ListSchedule.of(_list("30 7 * * 1-5", "Africa/Casablanca", lead=45))
    assert schedule.send.timezone == CASABLANCA
    for trigger in (schedule.send, schedule.draft):  # the SQLAlchemy job store pickles them
        again = pickle.loads(pickle.dumps(trigger))
        now = utc(2026, 5, 4)
        assert again.get_next_fire_time(None, now) == trigger.get_next_fire_time(None, now)


# -- time zones and clock changes ------------------------------------------------------------


def test_casablanca_ramadan_time_moves_the_utc_send_time() -> None:
    """Casablanca is UTC+1, and UTC+0 from 2026-02-15 to 2026-03-22 (as zoneinfo says)."""
    times = sends("0 7 * * *", "Africa/Casablanca", utc(2026, 2, 13, 12), 3)
    assert times == [utc(2026, 2, 14, 6), utc(2026, 2, 15, 7), utc(2026, 2, 16, 7)]
    times = sends("0 7 * * *", "Africa/Casablanca", utc(2026, 3, 20, 12), 3)
    assert times == [utc(2026, 3, 21, 7), utc(2026, 3, 22, 6), utc(2026, 3, 23, 6)]
    assert all(t.astimezone(CASABLANCA).hour == 7 for t in times)


def test_paris_summer_and_winter_time() -> None:
    assert sends("0 7 * * *", "Europe/Paris", utc(2026, 3, 28, 12), 2) == [utc(2026, 3, 29, 5), utc(2026, 3, 30, 5)]
    assert sends("0 7 * * *", "Europe/Paris", utc(2026, 10, 24, 12), 2) == [utc(2026, 10, 25, 6), utc(2026, 10, 26, 6)]


@pytest.mark.parametrize(
    ("tz", "now", "expected"),
    [
        # Paris, 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day
        ("Europe/Paris", utc(2026, 3, 28, 12), [utc(2026, 3, 28, 1, 30) + timedelta(days=1), utc(2026, 3, 30, 0, 30)]),
        # Casablanca, 2026-03-22: 02:00 (UTC+0) jumps to 03:00 (UTC+1)
        ("Africa/Casablanca", utc(2026, 3, 21, 12), [utc(2026, 3, 22, 2, 30), utc(2026, 3, 23, 1, 30)]),
    ],
)
def test_a_time_that_does_not_exist_fires_once_an_hour_later(tz: str, now: datetime, expected: list[datetime]) -> None:
    times = sends("30 2 * * *", tz, now, 2)
    assert times == expected
    # once that day, at 03:30 on the wall clock
    assert times[0].astimezone(ZoneInfo(tz)).strftime("%H:%M") == "03:30"


@pytest.mark.parametrize(
    ("tz", "now", "expected"),
    [
        # Paris, 2026-10-25: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice
        ("Europe/Paris", utc(2026, 10, 24, 12), [utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30), utc(2026, 10, 26, 1, 30)]),
        # Casablanca, 2026-02-15: 03:00 (UTC+1) goes back to 02:00 (UTC+0)
        ("Africa/Casablanca", utc(2026, 2, 14, 12), [utc(2026, 2, 15, 1, 30), utc(2026, 2, 15, 2, 30), utc(2026, 2, 16, 2, 30)]),
    ],
)
def test_a_repeated_time_fires_twice_for_the_same_edition_day(tz: str, now: datetime, expected: list[datetime]) -> None:
    """The trigger fires in both offsets; the send job's idempotency (test_daemon) makes it one."""
    schedule = ListSchedule.of(_list("30 2 * * *", tz))
    times = [t.astimezone(UTC) for t in fire_times(schedule.send, now, 3)]
    assert times == expected
    lookback = timedelta(minutes=30)
    assert schedule.send_day(times[0], lookback) == schedule.send_day(times[1], lookback) == times[0].astimezone(ZoneInfo(tz)).date()


# -- the draft ahead of the send --------------------------------------------------------------


def test_draft_is_lead_minutes_before_the_send_in_elapsed_time() -> None:
    schedule = ListSchedule.of(_list("0 7 * * *", "Africa/Casablanca", lead=90))
    drafts = [t.astimezone(UTC) for t in fire_times(schedule.draft, utc(2026, 2, 13, 12), 3)]
    assert drafts == [utc(2026, 2, 14, 4, 30), utc(2026, 2, 15, 5, 30), utc(2026, 2, 16, 5, 30)]
    # across the Paris spring change: 03:30 CEST is only 30 min of wall clock after 02:00 CET
    paris = ListSchedule.of(_list("30 3 * * *", "Europe/Paris", lead=90))
    assert paris.next_draft(utc(2026, 3, 28, 12)) == utc(2026, 3, 29, 0, 0)
    assert paris.next_draft(utc(2026, 3, 28, 12)).astimezone(PARIS).strftime("%H:%M") == "01:00"


def test_the_draft_is_for_the_day_of_its_send_even_before_midnight() -> None:
    schedule = ListSchedule.of(_list("30 0 * * *", "Europe/Paris", lead=120))
    draft = schedule.next_draft(utc(2026, 6, 1, 12))
    assert draft.astimezone(PARIS).strftime("%Y-%m-%d %H:%M") == "2026-06-01 22:30"
    assert schedule.draft_day(draft) == date(2026, 6, 2)
    send = schedule.next_send(draft)
    assert schedule.send_day(send, timedelta(minutes=30)) == date(2026, 6, 2)


def test_a_late_send_is_still_for_its_own_day() -> None:
    """A send missed at 23:50 and run (within the grace time) at 00:10 sends the 23:50 edition."""
    schedule = ListSchedule.of(_list("50 23 * * *", "Europe/Paris"))
    late = datetime(2026, 6, 2, 0, 10, tzinfo=PARIS)
    assert schedule.send_day(late, timedelta(minutes=30)) == date(2026, 6, 1)
    assert schedule.send_day(late, timedelta(minutes=5)) == date(2026, 6, 2)  # outside: today


def test_weekday_schedule_skips_the_weekend_for_draft_and_send() -> None:
    schedule = ListSchedule.of(_list("30 7 * * 1-5", "Africa/Casablanca", lead=60))
    friday_after = utc(2026, 5, 8, 12)  # Friday afternoon
    assert schedule.next_send(friday_after) == utc(2026, 5, 11, 6, 30)  # Monday 07:30 (UTC+1)
    assert schedule.next_draft(friday_after) == utc(2026, 5, 11, 5, 30)
