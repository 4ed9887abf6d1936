"""What readers see in each language: UI strings, dates, default subjects and section titles.

French, English and Arabic are written here; any other language falls back to English strings
and to its own babel locale for dates when babel knows it. Arabic dates use the Moroccan locale
(``ar_MA``): Latin digits and the month names Moroccan papers print ("نونبر").
"""

from __future__ import annotations

from datetime import date, datetime

from babel import Locale, UnknownLocaleError
from babel.dates import format_date

# Babel locale per edition language, where the bare code is not what our readers expect.
LOCALES = {"fr": "fr", "en": "en", "ar": "ar_MA"}

# French puts a no-break space before ":"; it is written here as \u00a0 so wrapping keeps it.
STRINGS: dict[str, dict[str, str]] = {
    "view_in_browser": {
        "fr": "Voir dans le navigateur",
        "en": "View in your browser",
        "ar": "اقرأ هذه النشرة في المتصفح",
    },
    "greeting": {"fr": "Bonjour", "en": "Hello", "ar": "مرحبا"},
    "in_this_edition": {
        "fr": "Dans cette édition",
        "en": "In this edition",
        "ar": "في هذا العدد",
    },
    "also_in": {"fr": "Aussi dans", "en": "Also in", "ar": "أيضا في"},
    "colon": {"fr": "\u00a0:", "en": ":", "ar": ":"},
    # between the names of a list ("Aussi dans : A, B"); Arabic writes its own comma
    "separator": {"fr": ", ", "en": ", ", "ar": "، "},
    "archive": {
        "fr": "Les éditions précédentes",
        "en": "Past editions",
        "ar": "الأعداد السابقة",
    },
    "unsubscribe": {
        "fr": "Se désinscrire",
        "en": "Unsubscribe",
        "ar": "إلغاء الاشتراك",
    },
    "why": {
        "fr": "Vous recevez cette lettre parce que vous êtes inscrit(e) à «\u00a0{list}\u00a0».",
        "en": "You receive this email because you subscribed to “{list}”.",
        "ar": "تصلك هذه الرسالة لأنك مشترك في «{list}».",
    },
    "default_list_name": {"fr": "Revue de presse", "en": "Press review", "ar": "مراجعة الصحافة"},
    # an edition with no article (the list's send_empty)
    "nothing_new": {
        "fr": "Rien de nouveau depuis la dernière édition.",
        "en": "Nothing new since the last edition.",
        "ar": "لا جديد منذ العدد السابق.",
    },
}

# Readable defaults for common tags; an editor can still rename a section.
SECTION_TITLES: dict[str, dict[str, str]] = {
    "economie": {"fr": "Économie", "en": "Economy", "ar": "اقتصاد"},
    "politique": {"fr": "Politique", "en": "Politics", "ar": "سياسة"},
    "societe": {"fr": "Société", "en": "Society", "ar": "مجتمع"},
    "culture": {"fr": "Culture", "en": "Culture", "ar": "ثقافة"},
    "sport": {"fr": "Sport", "en": "Sport", "ar": "رياضة"},
    "sports": {"fr": "Sports", "en": "Sports", "ar": "رياضة"},
    "international": {"fr": "International", "en": "World", "ar": "دولي"},
    "monde": {"fr": "Monde", "en": "World", "ar": "العالم"},
    "maroc": {"fr": "Maroc", "en": "Morocco", "ar": "المغرب"},
    "afrique": {"fr": "Afrique", "en": "Africa", "ar": "إفريقيا"},
    "regions": {"fr": "Régions", "en": "Regions", "ar": "جهات"},
    "technologie": {"fr": "Technologie", "en": "Technology", "ar": "تكنولوجيا"},
    "tech": {"fr": "Technologie", "en": "Technology", "ar": "تكنولوجيا"},
    "sciences": {"fr": "Sciences", "en": "Science", "ar": "علوم"},
    "sante": {"fr": "Santé", "en": "Health", "ar": "صحة"},
    "education": {"fr": "Éducation", "en": "Education", "ar": "تعليم"},
    "environnement": {"fr": "Environnement", "en": "Environment", "ar": "بيئة"},
    "energie": {"fr": "Énergie", "en": "Energy", "ar": "طاقة"},
    "justice": {"fr": "Justice", "en": "Justice", "ar": "عدالة"},
    "medias": {"fr": "Médias", "en": "Media", "ar": "إعلام"},
    "agriculture": {"fr": "Agriculture", "en": "Agriculture", "ar": "فلاحة"},
    "tourisme": {"fr": "Tourisme", "en": "Tourism", "ar": "سياحة"},
    "immobilier": {"fr": "Immobilier", "en": "Real estate", "ar": "عقار"},
    "finance": {"fr": "Finance", "en": "Finance", "ar": "مالية"},
    "emploi": {"fr": "Emploi", "en": "Jobs", "ar": "تشغيل"},
    "transport": {"fr": "Transport", "en": "Transport", "ar": "نقل"},
    "divers": {"fr": "Divers", "en": "Other news", "ar": "متفرقات"},
}


def text(key: str, language: str, **values: str) -> str:
    """The UI string KEY in LANGUAGE (English when the language has none), formatted."""
    table = STRINGS[key]
    return table.get(language, table["en"]).format(**values)


def strings_for(language: str) -> dict[str, str]:
    """Every UI string in LANGUAGE, unformatted (what the templates receive as ``t``)."""
    return {key: table.get(language, table["en"]) for key, table in STRINGS.items()}


def locale_for(language: str) -> Locale:
    """The babel locale for LANGUAGE: our choice for fr/en/ar, babel's own otherwise, else English."""
    try:
        return Locale.parse(LOCALES.get(language, language or "en"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def format_day(day: date | datetime, language: str, fmt: str = "long") -> str:
    """DAY as readers of LANGUAGE write it ("28 novembre 2026"; fmt="full" adds the weekday)."""
    if isinstance(day, datetime):
        day = day.date()
    return format_date(day, format=fmt, locale=locale_for(language))


def subject_for(list_name: str, day: date, language: str) -> str:
    """The default subject: the list name and the full localised date.

    >>> subject_for("Revue de presse", date(2026, 11, 28), "fr")
    'Revue de presse — samedi 28 novembre 2026'
    """
    name = list_name.strip() or text("default_list_name", language)
    return f"{name} — {format_day(day, language, 'full')}"


def section_title(tag: str, language: str) -> str:
    """A readable default title for the section of TAG ("economie" -> "Économie")."""
    key = tag.strip().lower()
    known = SECTION_TITLES.get(key)
    if known:
        return known.get(language, known["en"])
    words = key.replace("_", " ").replace("-", " ").split()
    return " ".join(words).capitalize() if words else tag
