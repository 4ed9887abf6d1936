"""When a list's edition is drafted and sent: its cron schedule read in its own time zone.

A list's ``schedule`` is a cron expression of 5 fields, ``minute hour day month weekday``, with
the usual (Vixie cron, crontab(5)) meaning, read in the list's IANA ``timezone``:

- each field is ``*``, a number, a range ``a-b``, a step ``*/n``, ``a-b/n`` or ``a/n`` (from a
  to the end), or a comma list of those; months may be named ``jan``..``dec``;
- weekday 0 and 7 are Sunday, 1 is Monday ... 6 is Saturday; names ``sun``..``sat`` are allowed
  (``mon-fri``); a range cannot wrap around (``fri-mon`` is an error: write ``fri-sat,sun,mon``);
- when both day and weekday are restricted (neither starts with ``*``), the edition goes out
  on days matching *either* (``0 7 1 * mon``: the 1st of the month and every Monday), as cron does.

APScheduler 3.x counts weekday 0 as Monday (``CronTrigger.from_crontab`` would send a "0" on the
wrong day), so the fields are parsed here and handed to ``CronTrigger`` expanded, weekdays by
name, with the list's time zone given explicitly (a trigger built without one uses the host's).

Daylight-saving changes, as APScheduler's ``CronTrigger`` computes them and the tests pin down:

- a local time that does not exist that day (clocks jump forward: Europe/Paris 02:30 on the last
  Sunday of March, Africa/Casablanca 02:30 when Ramadan time ends) fires **once**, at the instant
  that time would have had under the old offset, i.e. one hour later on the wall clock (03:30);
- a local time that happens twice (clocks go back: Paris in October, Casablanca when Ramadan time
  starts) fires **twice**, once per offset. Drafting twice refreshes the same draft and sending
  twice sends nothing more: the daemon's jobs are idempotent per list and edition date.

The draft is built ``lead_minutes`` before each send, counted in real elapsed time (an hour of
review is an hour, even across a clock change): :class:`LeadTrigger`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

from newsletter.audience.lists import ListConfig
from newsletter.errors import ConfigError

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# cron numbering: 0 (and 7) = Sunday. APScheduler 3.x numbers from Monday = 0 but reads these
# names the same way, so weekdays are handed to it by name only.
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")

_FIELDS = (  # name, lowest, highest, names (index + offset = value)
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day", 1, 31, None),
    ("month", 1, 12, MONTHS),
    ("weekday", 0, 7, WEEKDAYS),
)
_ITEM_RE = re.compile(r"^(?P<range>\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/(?P<step>\d+))?$")


@dataclass(frozen=True)
class CronSpec:
    """A parsed cron expression: each field expanded to its sorted values (None means ``*``)."""

    expression: str
    minute: tuple[int, ...] | None
    hour: tuple[int, ...] | None
    day: tuple[int, ...] | None
    month: tuple[int, ...] | None
    weekday: tuple[int, ...] | None  # cron numbering, 0 = Sunday (7 folded into 0)
    day_or_weekday: bool  # both day and weekday restricted: a day matching either fires

    def trigger(self, tz: ZoneInfo) -> BaseTrigger:
        """The APScheduler trigger of this expression in time zone TZ."""

        def field(values: tuple[int, ...] | None) -> str:
            return "*" if values is None else ",".join(str(v) for v in values)

        common = {"minute": field(self.minute), "hour": field(self.hour), "month": field(self.month)}
        weekdays = (
            "*" if self.weekday is None else ",".join(WEEKDAYS[d] for d in self.weekday)
        )
        if not self.day_or_weekday:
            return CronTrigger(
                **common, day=field(self.day), day_of_week=weekdays, timezone=tz
            )
        return OrTrigger(
            [
                CronTrigger(**common, day=field(self.day), day_of_week="*", timezone=tz),
                CronTrigger(**common, day="*", day_of_week=weekdays, timezone=tz),
            ]
        )


def _value(text: str, name: str, low: int, high: int, names: tuple[str, ...] | None) -> int:
    if text.isdigit():
        value = int(text)
    elif names and text[:3] in names and len(text) == 3:
        value = names.index(text) + (1 if name == "month" else 0)
    else:
        known = f" or a name ({names[0]}..{names[-1]})" if names else ""
        raise ValueError(f"{name} {text!r} is not a number{known}")
    if not low <= value <= high:
        extra = " (0 and 7 are Sunday)" if name == "weekday" else ""
        raise ValueError(f"{name} {value} is out of range {low}-{high}{extra}")
    return value


def _field(text: str, name: str, low: int, high: int, names: tuple[str, ...] | None) -> set[int] | None:
    if text == "*":
        return None
    values: set[int] = set()
    for item in text.split(","):
        match = _ITEM_RE.match(item)
        if not match:
            raise ValueError(f"{name} {item!r} is not a value, range or step")
        part, step = match["range"], int(match["step"]) if match["step"] else 1
        if step < 1:
            raise ValueError(f"{name} step in {item!r} must be at least 1")
        if part == "*":
            first, last = low, high
        elif "-" in part:
            a, b = part.split("-")
            first, last = _value(a, name, low, high, names), _value(b, name, low, high, names)
            if first > last:
                raise ValueError(f"{name} range {item!r} goes backwards (write it as a list)")
        else:
            first = _value(part, name, low, high, names)
            last = high if match["step"] else first  # "a/n": from a to the end, as cron does
        values.update(range(first, last + 1, step))
    return values


def parse_cron(expression: str) -> CronSpec:
    """The 5 fields of EXPRESSION, checked; ValueError says which field is wrong and why."""
    parts = expression.lower().split()
    if len(parts) != 5:
        raise ValueError(
            f"{len(parts)} fields, a cron expression needs 5 (minute hour day month weekday)"
        )
    fields: list[tuple[int, ...] | None] = []
    for text, (name, low, high, names) in zip(parts, _FIELDS):
        values = _field(text, name, low, high, names)
        if values is not None and name == "weekday":
            values = {v % 7 for v in values}  # 7 is Sunday too
        if values is not None and len(values) == high - low + 1 - (name == "weekday"):
            values = None  # every value: the same as "*"
        fields.append(tuple(sorted(values)) if values is not None else None)
    minute, hour, day, month, weekday = fields
    day_or_weekday = not parts[2].startswith("*") and not parts[4].startswith("*")
    if day_or_weekday and (day is None or weekday is None):
        # "1-31" or "0-6" written out: the field matches every day, so the OR is "every day"
        day_or_weekday, day, weekday = False, None, None
    return CronSpec(expression, minute, hour, day, month, weekday, day_or_weekday)


class LeadTrigger(BaseTrigger):
    """Fires LEAD before every fire time of TRIGGER, in elapsed time (UTC arithmetic).

    Module-level and plain, so the SQLAlchemy job store can pickle it.
    """

    def __init__(self, trigger: BaseTrigger, lead: timedelta, timezone: ZoneInfo) -> None:
        self.trigger = trigger
        self.lead = lead
        self.timezone = timezone

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        previous = previous_fire_time.astimezone(UTC) + self.lead if previous_fire_time else None
        fire = self.trigger.get_next_fire_time(previous, now.astimezone(UTC) + self.lead)
        return None if fire is None else (fire.astimezone(UTC) - self.lead).astimezone(self.timezone)

    def __str__(self) -> str:
        return f"{self.trigger} - {self.lead}"

    def __repr__(self) -> str:
        return f"<LeadTrigger ({self.trigger!r}) - {self.lead}>"


def fire_times(trigger: BaseTrigger, now: datetime, count: int) -> list[datetime]:
    """The next COUNT fire times after NOW, each computed from the previous as the scheduler does."""
    times: list[datetime] = []
    fire = trigger.get_next_fire_time(None, now)
    while fire is not None and len(times) < count:
        times.append(fire)
        fire = trigger.get_next_fire_time(fire, fire)
    return times


@dataclass(frozen=True)
class ListSchedule:
    """A list's send and draft triggers, and the edition date a run at a given instant is for."""

    slug: str
    timezone: ZoneInfo
    spec: CronSpec
    lead: timedelta
    send: BaseTrigger
    draft: BaseTrigger

    @classmethod
    def of(cls, list_config: ListConfig) -> ListSchedule:
        """The schedule of LIST_CONFIG; ConfigError names the list and the bad field."""
        try:
            spec = parse_cron(list_config.schedule)
        except ValueError as exc:
            raise ConfigError(
                f"list {list_config.slug!r}: schedule {list_config.schedule!r}: {exc}"
            ) from None
        tz = ZoneInfo(list_config.timezone)
        lead = timedelta(minutes=list_config.lead_minutes)
        send = spec.trigger(tz)
        return cls(list_config.slug, tz, spec, lead, send, LeadTrigger(send, lead, tz))

    def next_send(self, now: datetime) -> datetime | None:
        return self.send.get_next_fire_time(None, now)

    def next_draft(self, now: datetime) -> datetime | None:
        return self.draft.get_next_fire_time(None, now)

    def local_day(self, when: datetime) -> date:
        return when.astimezone(self.timezone).date()

    def send_times(self, day: date) -> list[datetime]:
        """The send times that fall on the local DAY, in order (aware, in the list's zone)."""
        times = []
        fire = self.next_send(datetime.combine(day, time.min, tzinfo=self.timezone))
        while fire is not None and self.local_day(fire) == day:
            times.append(fire.astimezone(self.timezone))
            fire = self.send.get_next_fire_time(fire, fire)
        return times

    def draft_day(self, now: datetime) -> date:
        """The edition a draft built at NOW is for: the day of the next send at or after NOW."""
        fire = self.next_send(now)
        return self.local_day(fire or now)

    def latest_send(self, now: datetime, lookback: timedelta) -> datetime | None:
        """The latest send time in [NOW - LOOKBACK, NOW] (in UTC), or None."""
        # in UTC: two local times of one zone compare as wall-clock times, blind to a repeated
        # hour, and subtracting LOOKBACK (or adding a grace time) to a local time is wall-clock
        # arithmetic across a clock change
        now = now.astimezone(UTC)
        latest = None
        fire = self.send.get_next_fire_time(None, now - lookback)
        while fire is not None and fire <= now:
            latest = fire
            fire = self.send.get_next_fire_time(fire, fire)
        return None if latest is None else latest.astimezone(UTC)

    def send_day(self, now: datetime, lookback: timedelta) -> date:
        """The edition a send at NOW is for: the day of the latest send time within LOOKBACK.

        A send that runs late (a misfire within the grace time) still sends that day's
        edition, even past midnight; with no send time in the window, today's local date.
        """
        return self.local_day(self.latest_send(now, lookback) or now)
