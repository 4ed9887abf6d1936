"""The sentence splitter on the shapes scraped news text comes in.

Every example is written for these tests."""

from __future__ import annotations

import pytest

from newsletter.summarize.sentences import (
    is_boilerplate,
    is_cut_off,
    looks_like_code,
    question_headings,
    split_sentences,
    strip_dateline,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a lost space between sentences
        (
            "Trois suspects ont été interpellés.Les images ont circulé toute la soirée.",
            ["Trois suspects ont été interpellés.", "Les images ont circulé toute la soirée."],
        ),
        (
            'Le maire a tranché."Nous reprendrons les travaux", a-t-il dit.',
            ["Le maire a tranché.", '"Nous reprendrons les travaux", a-t-il dit.'],
        ),
        (
            "Le centre a rouvert après le confinement.46 chambres sont prêtes, voir la fig.3 du plan.",
            [
                "Le centre a rouvert après le confinement.",
                "46 chambres sont prêtes, voir la fig.3 du plan.",
            ],
        ),
        # dots that end nothing
        (
            "Le taux a atteint 3.5 % en mars. Le site www.agence-locale.ma publie les chiffres.",
            [
                "Le taux a atteint 3.5 % en mars.",
                "Le site www.agence-locale.ma publie les chiffres.",
            ],
        ),
        (
            "J.-P. Dupont a reçu M. Hammouchi. Mme Alaoui, Mlle Idrissi et le Dr Benani étaient là.",
            [
                "J.-P. Dupont a reçu M. Hammouchi.",
                "Mme Alaoui, Mlle Idrissi et le Dr Benani étaient là.",
            ],
        ),
        (
            "MM. Martin et Petit ont visité St. Louis avec Pr. Haddad. Ils sont rentrés.",
            ["MM. Martin et Petit ont visité St. Louis avec Pr. Haddad.", "Ils sont rentrés."],
        ),
        (
            "La ville fut fondée en 40 av. J.-C. par des marchands. Elle a prospéré.",
            ["La ville fut fondée en 40 av. J.-C. par des marchands.", "Elle a prospéré."],
        ),
        (
            "A. B. Smith met Mr. Jones and Mrs. Brown of Acme Inc. in the U.S. Army base. They left.",
            [
                "A. B. Smith met Mr. Jones and Mrs. Brown of Acme Inc. in the U.S. Army base.",
                "They left.",
            ],
        ),
        (
            "Small towns, e.g. in the north, i.e. near the coast, vs. cities differ. Ms. Lee and Dr. Roe agree.",
            [
                "Small towns, e.g. in the north, i.e. near the coast, vs. cities differ.",
                "Ms. Lee and Dr. Roe agree.",
            ],
        ),
        (
            "The Oct. 7 attacks and the Nov. 5 vote were on Jul. 1 lists. They changed.",
            ["The Oct. 7 attacks and the Nov. 5 vote were on Jul. 1 lists.", "They changed."],
        ),
        # ellipses, exclamations, questions
        (
            "Il hésite... puis signe. Enfin… La suite viendra ! Qui paiera ?Personne.",
            [
                "Il hésite... puis signe.",
                "Enfin…",
                "La suite viendra !",
                "Qui paiera ?",
                "Personne.",
            ],
        ),
    ],
)
def test_splits_where_sentences_end(text: str, expected: list[str]) -> None:
    assert split_sentences(text, "fr") == expected


def test_closing_quotes_stay_with_their_sentence() -> None:
    text = "« Nous partirons demain. » Le ministre l'a confirmé. « Vraiment ? » a demandé un élu."
    assert split_sentences(text) == [
        "« Nous partirons demain. »",
        "Le ministre l'a confirmé.",
        "« Vraiment ? » a demandé un élu.",
    ]
    glued = 'Elle a répondu "pas cette année."Le projet attendra.'
    assert split_sentences(glued) == ['Elle a répondu "pas cette année."', "Le projet attendra."]


def test_a_closing_quote_glued_to_a_capital_ends_a_sentence() -> None:
    text = 'Il parle d\'un "moment de grâce"Le public a applaudi longtemps.'
    assert split_sentences(text) == [
        'Il parle d\'un "moment de grâce"',
        "Le public a applaudi longtemps.",
    ]


def test_paragraphs_and_lines_end_sentences_but_wrapped_lines_do_not() -> None:
    text = "Un titre sans point\n\nUn paragraphe qui continue\nsur la ligne suivante. Puis la fin\nNouvelle ligne"
    assert split_sentences(text) == [
        "Un titre sans point",
        "Un paragraphe qui continue sur la ligne suivante.",
        "Puis la fin",
        "Nouvelle ligne",
    ]


def test_arabic_comma_does_not_end_a_sentence_but_question_mark_does() -> None:
    text = "قال الوزير إن الحكومة، بعد نقاش طويل، قررت الإصلاح. هل سينجح المشروع؟ نعم! سنرى النتائج قريبا."
    assert split_sentences(text, "ar") == [
        "قال الوزير إن الحكومة، بعد نقاش طويل، قررت الإصلاح.",
        "هل سينجح المشروع؟",
        "نعم!",
        "سنرى النتائج قريبا.",
    ]


def test_flattened_lists_and_sub_headings_are_taken_apart() -> None:
    bullets = "Le plan compte trois volets.• Transports Les bus seront gratuits. • Écoles Elles rouvrent."
    assert split_sentences(bullets, "fr") == [
        "Le plan compte trois volets.",
        "Transports Les bus seront gratuits.",  # a heading glued without a mark stays glued
        "Écoles Elles rouvrent.",
    ]
    dashes = "La prime sera versée (200 euros).- La SNCF suivra en mars.- Orange aussi."
    assert split_sentences(dashes, "fr") == [
        "La prime sera versée (200 euros).",
        "La SNCF suivra en mars.",
        "Orange aussi.",
    ]
    heading = 'Le maire a parlé sur Radio Atlas.- Une ville à l\'arrêt -Les commerces restent fermés.'
    assert split_sentences(heading, "fr") == [
        "Le maire a parlé sur Radio Atlas.",
        "Une ville à l'arrêt",
        "Les commerces restent fermés.",
    ]
    # an initial's dash is still no list dash, and a dash between spaces is prose
    assert split_sentences("Il a vu J.-P. Martin. Le vote - serré - a eu lieu.", "fr") == [
        "Il a vu J.-P. Martin.",
        "Le vote - serré - a eu lieu.",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "RABAT – Le conseil a adopté le budget. Il entre en vigueur lundi.",
        "PARIS (AFP) - Le conseil a adopté le budget. Il entre en vigueur lundi.",
        "(MAP) – Le conseil a adopté le budget. Il entre en vigueur lundi.",
        "Rabat, 3 mars (MAP) – Le conseil a adopté le budget. Il entre en vigueur lundi.",
        # a full stop inside the dateline
        "LA CROSSE, Wis. (AP) — Le conseil a adopté le budget. Il entre en vigueur lundi.",
    ],
)
def test_datelines_are_stripped_from_the_first_sentence(text: str) -> None:
    assert split_sentences(text, "fr") == [
        "Le conseil a adopté le budget.",
        "Il entre en vigueur lundi.",
    ]


def test_strip_dateline_leaves_ordinary_sentences_alone() -> None:
    sentence = "Le Parti socialiste a gagné - de peu - la mairie."
    assert strip_dateline(sentence) == sentence
    assert (
        strip_dateline("الرباط – أعلنت الوزارة عن برنامج جديد.") == "أعلنت الوزارة عن برنامج جديد."
    )


@pytest.mark.parametrize(
    "line",
    [
        "Par Jean Dupont",
        "Photo : AFP",
        "© Reuters",
        "Crédit photo : Sara Benani",
        "By John Smith",
        "Lire aussi : le budget",
        # the page speaking to its reader
        "Pour réécouter son interview, cliquez sur l’icône ci-dessous.",
        "Profitez de notre offre découverte.",
        "En remplissant ce formulaire vous pourrez être inscrit à notre liste de diffusion.",
        "CLICK HERE TO GET THE NEWS APP",
        "Click on the photos above to learn how the town has changed.",
        "Subscribe now!",
        "لمشاهدة الفيديو اضغط هنا",
    ],
)
def test_bylines_and_credits_are_boilerplate(line: str) -> None:
    assert is_boilerplate(line)


@pytest.mark.parametrize(
    "sentence",
    [
        "Par ailleurs, le ministre a annoncé une hausse.",
        "By the end of the year the plant will close.",
        "Le photographe a exposé à Rabat.",
        "Les internautes qui cliquent sur les publicités rapportent peu, selon l'étude.",
        "« Inscrivez-vous sur les listes électorales », a lancé le maire.",
    ],
)
def test_prose_is_not_boilerplate(sentence: str) -> None:
    assert not is_boilerplate(sentence)


def test_list_markers_are_dropped() -> None:
    text = "Les décisions :\n- Grève reconduite jeudi.\n* Enfin, une AG se tiendra lundi."
    assert split_sentences(text) == [
        "Les décisions :",
        "Grève reconduite jeudi.",
        "Enfin, une AG se tiendra lundi.",
    ]


def test_script_left_in_a_page_is_split_off_and_flagged() -> None:
    text = "Le festival a fermé ses portes dimanche. window.player_42 = new Player('x', {id: \"a1\"}); Et encore."
    sentences = split_sentences(text)
    assert sentences[0] == "Le festival a fermé ses portes dimanche."
    assert looks_like_code(sentences[-1])
    assert not looks_like_code(sentences[0])


def test_blank_text_has_no_sentences() -> None:
    assert split_sentences("") == []
    assert split_sentences("  \n\n ... ") == []


def test_questions_alone_on_their_line_are_headings() -> None:
    text = (
        "Le conseil a voté le budget lundi. Qui paiera ?\n\n"
        "Que contient la loi ?\n"
        "Elle fixe les tarifs.\n\n"
        "Pourquoi maintenant ? Le délai expirait.\n\n"
        "ما الذي يتضمنه القانون؟"
    )
    assert question_headings(text) == {"Que contient la loi ?", "ما الذي يتضمنه القانون؟"}


@pytest.mark.parametrize(
    "sentences",
    [
        ["市は新しい図書館を開いた。", "本は二万冊ある！", "いつまで開くのか？", "「毎日九時まで。」", "市長が話した。"],
        ["नगर परिषद ने नया पुस्तकालय खोला।", "इसमें बीस हज़ार किताबें हैं।"],
        ["شہر نے نئی لائبریری کھولی۔", "اس میں بیس ہزار کتابیں ہیں۔"],
    ],
)
def test_chinese_japanese_hindi_and_urdu_end_marks_end_sentences(sentences: list[str]) -> None:
    glued = "".join(sentences) if "。" in sentences[0] else " ".join(sentences)
    assert split_sentences(glued) == sentences


def test_a_quotation_over_several_sentences_stays_one_piece() -> None:
    text = (
        "Le maire a répondu. « Notre règlement n’a pas été respecté. Les trottinettes "
        "encombrent les trottoirs. Nous arrêtons. » Les opérateurs ont protesté. "
        "“We will appeal. It is unfair,” one said. Then they left."
    )
    assert split_sentences(text) == [
        "Le maire a répondu.",
        "« Notre règlement n’a pas été respecté. Les trottinettes encombrent les trottoirs. "
        "Nous arrêtons. »",
        "Les opérateurs ont protesté.",
        "“We will appeal. It is unfair,” one said.",
        "Then they left.",
    ]


def test_a_quote_left_open_does_not_swallow_the_paragraph() -> None:
    text = "« Un. Deux. Trois. Quatre. Cinq. Six."
    assert split_sentences(text) == ["« Un.", "Deux.", "Trois.", "Quatre.", "Cinq.", "Six."]


@pytest.mark.parametrize(
    ("sentence", "cut"),
    [
        ("Les armateurs saluent l'extension du terminal […]", True),
        ("Les organisateurs, qui ont...", True),
        ("Residents of the eastern districts, who have waited (…)", True),
        ("Un « affaiblissement historique des normes (…)", True),
        ("Le ministre l'a confirmé lundi.", False),
        ("Il est 3.5 fois plus grand.", False),
        ("Voir... la suite est pour demain.", False),
        ("Et puis ?", False),
    ],
)
def test_a_sentence_cut_off_where_its_text_was_cut(sentence: str, cut: bool) -> None:
    assert is_cut_off(sentence) is cut

