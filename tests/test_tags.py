"""Tagging: whole words, accents, lemmas, phrases, Arabic, feed categories and origins."""

from __future__ import annotations

import pytest

from newsletter.config import TagRule
from newsletter.enrich.tags import Tagger


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger([
        TagRule(name="politique", keywords=["élection", "Parlement"], categories=["Politique", "Élections"]),
        TagRule(name="economie", keywords=["Banque centrale", "inflation"], categories=["Économie"]),
        TagRule(name="sport", keywords=["coupe du monde", "football"], categories=["Sports"]),
        TagRule(name="culture", keywords=["art", "cinéma"]),
        TagRule(name="maroc", keywords=["Maroc", "المغرب"]),
        TagRule(name="elections-ar", keywords=["الانتخابات", "البرلمان"]),
        TagRule(name="securite", keywords=["أمن"]),
        TagRule(name="sante", keywords=["santé", "hôpital"], min_hits=2),
    ])


def tags(tagger: Tagger, title: str, text: str = "", categories: tuple[str, ...] = (), language: str = "fr") -> list[tuple[str, str]]:
    return tagger.tag(title, text, list(categories), language)


def test_whole_words_only(tagger: Tagger) -> None:
    assert tags(tagger, "La sélection nationale convoquée") == []
    assert tags(tagger, "Un article sur les artistes et l'artisanat") == []
    assert tags(tagger, "Les arts de la rue") == [("culture", "rule")]


def test_accents_case_and_lemmas(tagger: Tagger) -> None:
    for title in ("Élections législatives", "élections partielles", "ELECTION anticipée",
                  "Les elections sans accents", "L'élection du président"):
        assert tags(tagger, title) == [("politique", "rule")], title


def test_phrases_are_consecutive_lemmas(tagger: Tagger) -> None:
    assert tags(tagger, "Les banques centrales relèvent leurs taux") == [("economie", "rule")]
    assert tags(tagger, "La Coupe du Monde 2030") == [("sport", "rule")]
    # the words of the phrase, but not in a row
    assert tags(tagger, "La banque du quartier est au centre de la ville, dit le monde") == []
    assert tags(tagger, "Une coupe de cheveux pour le monde") == []


def test_a_phrase_does_not_span_title_and_text(tagger: Tagger) -> None:
    assert tags(tagger, "La coupe", "du monde entier arrive ici.") == []


def test_keywords_in_text_lead(tagger: Tagger) -> None:
    text = "Le gouvernement a présenté son budget. L'inflation devrait ralentir selon la ministre."
    assert tags(tagger, "Budget 2025", text) == [("economie", "rule")]


def test_only_the_lead_is_read() -> None:
    tagger = Tagger([TagRule(name="sport", keywords=["football"])], lead_words=20)
    late = " ".join(["mot"] * 50) + " football"
    assert tagger.tag("Titre", late) == []
    assert Tagger([TagRule(name="sport", keywords=["football"])], lead_words=None).tag("Titre", late) == [("sport", "rule")]


def test_min_hits(tagger: Tagger) -> None:
    assert tags(tagger, "Visite à l'hôpital", "Le ministre a visité un service.") == []
    assert tags(tagger, "Visite à l'hôpital", "Le ministre de la Santé a visité un service.") == [("sante", "rule")]


def test_several_tags_at_once_in_rule_order(tagger: Tagger) -> None:
    text = "Au Maroc, l'inflation a pesé sur la campagne pour l'élection du Parlement."
    assert tags(tagger, "Campagne", text) == [
        ("politique", "rule"), ("economie", "rule"), ("maroc", "rule"),
    ]


def test_feed_categories_map_accent_and_case_insensitively(tagger: Tagger) -> None:
    assert tags(tagger, "Sans mot-clé", categories=("ECONOMIE",)) == [("economie", "feed")]
    assert tags(tagger, "Sans mot-clé", categories=("  élections ",)) == [("politique", "feed")]
    assert tags(tagger, "Sans mot-clé", categories=("Faits divers",)) == []


def test_feed_origin_wins_and_tags_are_deduplicated(tagger: Tagger) -> None:
    result = tags(tagger, "Élections : le Parlement", categories=("Politique", "Élections"))
    assert result == [("politique", "feed")]


@pytest.mark.parametrize(
    "title",
    [
        "المغرب يحتضن المؤتمر",  # with the article
        "زيارة رسمية إلى المغرب",
        "وبالمغرب تقام الدورة",  # wa + bi + al-
        "لقاء في المغرب",
        "مـــغرب الغد",  # tatweel, no article
    ],
)
def test_arabic_proclitics_and_article(tagger: Tagger, title: str) -> None:
    assert tags(tagger, title, language="ar") == [("maroc", "rule")]


def test_arabic_spelling_variants_and_diacritics(tagger: Tagger) -> None:
    # keyword أمن (hamza on alef) against امن / إمن / أَمْن
    for title in ("تعزيز الامن في المدن", "تعزيز الأَمْنِ", "وللأمن دور"):
        assert tags(tagger, title, language="ar") == [("securite", "rule")], title
    # ta marbuta written as ha, alef maqsura as ya: still one word
    rules = [TagRule(name="x", keywords=["الحكومة", "مستشفى"])]
    assert Tagger(rules).tag("قرار الحكومه", "") == [("x", "rule")]
    assert Tagger(rules).tag("بناء مستشفي جديد", "") == [("x", "rule")]


def test_arabic_plurals_and_whole_words(tagger: Tagger) -> None:
    assert tags(tagger, "نتائج الانتخابات التشريعية", language="ar") == [("elections-ar", "rule")]
    assert tags(tagger, "والانتخابات المقبلة", language="ar") == [("elections-ar", "rule")]
    assert tags(tagger, "جلسة بالبرلمان", language="ar") == [("elections-ar", "rule")]
    # a longer word that merely contains the keyword is not a match
    assert tags(tagger, "الأمنية والأمنيات", language="ar") == []


def test_language_unknown_or_other(tagger: Tagger) -> None:
    assert tags(tagger, "Élections au Maroc", language="") == [("politique", "rule"), ("maroc", "rule")]
    assert tags(tagger, "Morocco hosts the football World Cup", language="en") == [("sport", "rule")]


def test_no_rules_no_tags() -> None:
    assert Tagger([]).tag("Élections", "texte", ["Politique"]) == []


@pytest.fixture(scope="module")
def acronyms() -> Tagger:
    return Tagger([
        TagRule(name="tech", keywords=["AI", "intelligence artificielle"]),
        TagRule(name="economie", keywords=["BCE", "OCP", "FMI"]),
        TagRule(name="monde", keywords=["UE", "ONU", "G7"]),
    ])


@pytest.mark.parametrize("language", ["fr", "en", ""])
def test_an_acronym_is_not_lemmatised_nor_lowered(acronyms: Tagger, language: str) -> None:
    # "AI" lemmatised in French is "avoir": every "a", "ont", "avait" used to be a hit,
    # and "ai" is also "j'ai"
    text = "Il a dit qu'ils ont voté et qu'elle avait raison ; j'ai vu la décision. Ai Weiwei aussi."
    assert acronyms.tag("Ce que j'ai appris", text, language=language) == []
    assert acronyms.tag("Une ue de licence, l'onu et le g7", "", language=language) == []


def test_an_acronym_matches_as_written_in_capitals(acronyms: Tagger) -> None:
    assert acronyms.tag("L'AI Act entre en vigueur", "", language="fr") == [("tech", "rule")]
    assert acronyms.tag("How AI models are trained", "", language="en") == [("tech", "rule")]
    assert acronyms.tag("Titre", "La BCE relève ses taux, l'OCP investit.", language="fr") == [
        ("economie", "rule"),
    ]
    assert acronyms.tag("L'UE et l'ONU au sommet du G7", "", language="fr") == [("monde", "rule")]
    # a list of acronyms is not a headline in capitals
    assert acronyms.tag("Le FMI, la BCE et l'OCDE", "", language="fr") == [("economie", "rule")]


def test_a_headline_in_capitals_gives_no_acronym(acronyms: Tagger) -> None:
    assert acronyms.tag("J'AI TOUT VU DE CE FILM", "", language="fr") == []
    # ordinary keywords still match a headline in capitals
    assert acronyms.tag("L'INTELLIGENCE ARTIFICIELLE À L'ÉCOLE", "", language="fr") == [
        ("tech", "rule"),
    ]


@pytest.mark.parametrize(
    ("keyword", "language", "title"),
    [
        ("été", "fr", "Il était une fois"),  # lemma "être"
        ("data", "fr", "Les fossiles datent du jurassique"),  # lemma "dater"
        ("Fed", "en", "Readers feed the ducks"),  # lemma "feed"
        ("media", "en", "A medium-sized company"),  # lemma "medium"
        ("تعليم", "ar", "رفع العلم"),  # education, lemma علم: the flag, science
        ("جفاف", "ar", "جف الحبر"),  # drought, lemma جف: dried
    ],
)
def test_a_keyword_is_not_lemmatised_into_another_word(keyword: str, language: str, title: str) -> None:
    assert Tagger([TagRule(name="x", keywords=[keyword])]).tag(title, "", language=language) == []


@pytest.mark.parametrize(
    ("keyword", "language", "title"),
    [
        ("élections", "fr", "Une élection anticipée"),
        ("travaux", "fr", "Un travail de fond"),
        ("Jeux olympiques", "fr", "Le jeu olympique"),
        ("renewables", "en", "Renewable power grows"),
        ("women", "en", "A woman elected"),
        ("الانتخابات", "ar", "انتخاب رئيس جديد"),
        ("المستشفيات", "ar", "بناء مستشفى جديد"),
        ("تعليم", "ar", "إصلاح التعليم"),
    ],
)
def test_an_inflected_keyword_still_meets_its_base_form(keyword: str, language: str, title: str) -> None:
    assert Tagger([TagRule(name="x", keywords=[keyword])]).tag(title, "", language=language) == [
        ("x", "rule"),
    ]
