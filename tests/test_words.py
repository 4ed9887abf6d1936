"""How the product counts words (the summary budget, the shortest article)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from newsletter.words import count_words, first_words, strip_accents


def test_words_are_whitespace_tokens_outside_chinese_and_japanese() -> None:
    assert count_words("Le conseil a voté « le budget » lundi.") == 9  # « and » too
    assert count_words("مجلس المدينة صوت على الميزانية") == 5
    assert count_words("시의회가 예산을 통과시켰다") == 3  # Korean spaces its words


def test_two_chinese_or_japanese_characters_make_a_word() -> None:
    assert count_words("市は新しい図書館を開いた。") == 6  # 12 characters, the stop aside
    assert count_words("新图书馆正式开放") == 4
    assert count_words("2024年") == 1
    assert count_words("Apple の新製品") == 1 + 2


TEXTS = st.text(
    alphabet=st.sampled_from(list("ab1 .,「」。市図書館をはアイ") + ["\u3000", "\n"]), max_size=60
)


@given(TEXTS, TEXTS)
def test_joining_with_a_space_adds_the_counts(a: str, b: str) -> None:
    assert count_words(f"{a} {b}") == count_words(a) + count_words(b)


@given(TEXTS, st.integers(1, 20))
def test_first_words_is_the_longest_start_within_the_budget(text: str, max_words: int) -> None:
    head = first_words(text, max_words)
    assert text.startswith(head)
    assert count_words(head) <= max_words
    if count_words(text) <= max_words:
        assert head == text.rstrip()
    else:
        # through the next character that is not a space, the start holds a word too many
        rest = text[len(head) :]
        extended = text[: len(head) + len(rest) - len(rest.lstrip()) + 1]
        assert count_words(extended) > max_words


def test_strip_accents_keeps_case_and_letters() -> None:
    assert strip_accents("Élection à Fès") == "Election a Fes"
    assert strip_accents("ﬁnance") == "finance"  # a compatibility ligature is unfolded
    assert strip_accents("مَدْرَسَة") == "مدرسة"  # Arabic short vowels are combining marks
    assert strip_accents("BCE") == "BCE"
