"""Language detection: our own sentences in fr/en/ar, the source's hint, short and empty texts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from newsletter.enrich.language import detect_language, normalize_language, rank_languages

FRENCH = [
    "Le gouvernement a présenté mardi un plan de soutien aux agriculteurs touchés par la sécheresse.",
    "La Coupe du monde 2030 sera co-organisée par le Maroc, l'Espagne et le Portugal.",
    # French with English names and a title in English
    "Elon Musk et Donald Trump ont assisté au lancement de la fusée Starship, jeudi au Texas.",
    "Le film « The Brutalist » a remporté trois Oscars dimanche soir à Los Angeles.",
]
ENGLISH = [
    "The central bank left its key interest rate unchanged on Tuesday, citing persistent inflation.",
    "Rescue teams searched through the night for survivors of the earthquake in the Atlas mountains.",
    "Emmanuel Macron et Pedro Sánchez: the two leaders met in Paris to discuss the crisis.",
]
ARABIC = [
    "أعلنت الحكومة يوم الثلاثاء عن برنامج جديد لدعم الفلاحين المتضررين من الجفاف.",
    # Latin digits inside Arabic text
    "ارتفع معدل التضخم إلى 4,1 في المائة خلال شهر مارس 2025 حسب المندوبية السامية للتخطيط.",
    # a Latin-script name inside Arabic text
    "استقبل وزير الخارجية نظيره الفرنسي Jean-Noël Barrot في الرباط.",
    "هزة أرضية بقوة 4.5 درجات تضرب إقليم الحسيمة",
]


@pytest.mark.parametrize(
    "text,language",
    [(t, "fr") for t in FRENCH] + [(t, "en") for t in ENGLISH] + [(t, "ar") for t in ARABIC],
)
def test_detects_fr_en_ar(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize(
    "code,expected",
    [("fr-FR", "fr"), ("fr-BE", "fr"), ("FR_ca", "fr"), ("ar", "ar"), ("ar-MA", "ar"),
     ("en-GB", "en"), ("fra", "fr"), ("nb-NO", "no"), ("", ""), ("x-klingon", ""), ("123", "")],
)
def test_normalize_language(code: str, expected: str) -> None:
    assert normalize_language(code) == expected


def test_text_wins_over_a_wrong_hint_when_confident() -> None:
    assert detect_language(FRENCH[0], hint="en-US") == "fr"
    assert detect_language(ARABIC[0], hint="fr-FR") == "ar"
    assert detect_language(ENGLISH[0], hint="ar") == "en"


def test_hint_breaks_ties_on_short_texts() -> None:
    # A name or two words say little; the source's declared language decides.
    assert detect_language("Donald Trump", hint="fr-FR") == "fr"
    assert detect_language("Real Madrid - Barcelone", hint="fr") == "fr"
    assert detect_language("Le match", hint="fr") == "fr"


def test_short_or_empty_text_gives_hint_or_nothing() -> None:
    assert detect_language("") == ""
    assert detect_language("", hint="fr-BE") == "fr"
    assert detect_language("   2-1  ", hint="ar") == "ar"
    assert detect_language("OK", hint="") == ""
    assert detect_language("https://example.com/2025/03/12", hint="en") == "en"


def test_moroccan_arabic_is_arabic() -> None:
    # The model knows Moroccan (ary) and Egyptian (arz) Arabic: both count as "ar".
    text = "واش كاين شي جديد على الانتخابات؟ الناس كلهم كيهضرو على هاد الموضوع"
    assert detect_language(text) == "ar"
    codes = [code for code, _ in rank_languages(text)]
    assert "ary" not in codes and codes[0] == "ar"


DATA = Path(os.environ.get("NEWSLETTER_EVAL_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.mark.skipif(
    not (DATA / "summaries" / "orangesum-fr-dev.jsonl").exists(),
    reason=f"evaluation data not found under {DATA} (set NEWSLETTER_EVAL_DATA)",
)
def test_real_french_and_english_articles() -> None:
    def texts(name: str, n: int) -> list[str]:
        with (DATA / "summaries" / name).open(encoding="utf-8") as f:
            return [json.loads(line)["text"] for _, line in zip(range(n), f)]

    assert all(detect_language(t) == "fr" for t in texts("orangesum-fr-dev.jsonl", 100))
    assert all(detect_language(t[:100]) == "fr" for t in texts("orangesum-fr-dev.jsonl", 100))
    assert all(detect_language(t) == "en" for t in texts("cnndm-en-dev.jsonl", 50))
