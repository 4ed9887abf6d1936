"""The LLM summarizer against a fake OpenAI-compatible endpoint on loopback."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from newsletter.config import Config
from newsletter.errors import ConfigError, InputError
from newsletter.summarize import count_words, summarize
from newsletter.summarize.llm import (
    ENV_API_KEY,
    LLMError,
    LLMSummarizer,
    check_summary,
    summarize_with_fallback,
    truncate,
)

from .support.fake_llm import Answer, Call, FakeLLM, fake_llm  # noqa: F401 (fixture)

MODEL = "test-model-7b"

# Example articles written for these tests (invented events).
FR_TITLE = "Le tramway de Valmont ouvre sa deuxième ligne"
FR_TEXT = """\
VALMONT – La deuxième ligne du tramway de Valmont a été inaugurée samedi matin, avec trois \
mois de retard sur le calendrier initial. Longue de onze kilomètres, elle relie la gare \
centrale au quartier des Tilleuls en vingt-deux minutes.

La métropole estime que 40 000 voyageurs l'emprunteront chaque jour d'ici la fin de l'année. \
Le chantier a coûté 310 millions d'euros, dont un tiers financé par l'État.

Les commerçants de l'avenue Jaurès, privés de clients pendant les travaux, réclament toujours \
une indemnisation. « Nous avons perdu la moitié de notre chiffre d'affaires », affirme la \
présidente de leur association. La maire a promis une réponse avant l'été.
"""
FR_SUMMARY = (
    "La deuxième ligne du tramway de Valmont, longue de onze kilomètres, a été inaugurée "
    "samedi avec trois mois de retard ; les commerçants de l'avenue Jaurès réclament "
    "toujours une indemnisation."
)

EN_TITLE = "Harbour library reopens after two-year repair"
EN_TEXT = """\
The Harbour Street library reopened on Tuesday after a two-year repair of its flooded \
basement and roof. The council spent 4.2 million pounds on the work, more than twice the \
first estimate.

Visitors will find a new children's floor and a reading room facing the sea. The opening \
hours are shorter than before the closure, which the staff union called a mistake.
"""
EN_SUMMARY = (
    "The Harbour Street library reopened on Tuesday after a two-year, 4.2 million pound "
    "repair, with a new children's floor but shorter opening hours."
)

AR_TITLE = "امتلاء سد الوادي الأخضر بعد أمطار غزيرة"
AR_TEXT = """\
بلغت نسبة ملء سد الوادي الأخضر تسعين في المئة يوم الأحد، بعد أسبوع من الأمطار الغزيرة التي \
شهدتها المنطقة. وأعلنت وكالة الحوض المائي أن هذه النسبة هي الأعلى منذ سبع سنوات.

وقال مسؤول في الوكالة إن المخزون يكفي لتزويد المدن المجاورة بالماء الشروب لمدة عامين. \
غير أن الفلاحين يطالبون بتخصيص حصة أكبر لري الحقول بعد سنوات من الجفاف.
"""
AR_SUMMARY = (
    "بلغت نسبة ملء سد الوادي الأخضر تسعين في المئة بعد أسبوع من الأمطار الغزيرة، وهي الأعلى "
    "منذ سبع سنوات، فيما يطالب الفلاحون بحصة أكبر للري."
)


@pytest.fixture
def sleeps() -> list[float]:
    """The delays the summarizer would have slept (the test does not wait for them)."""
    return []


@pytest.fixture
def make_llm(fake_llm: FakeLLM, sleeps: list[float]) -> Iterator[Callable[..., LLMSummarizer]]:
    made: list[LLMSummarizer] = []

    def build(**kw: object) -> LLMSummarizer:
        kw.setdefault("timeout", 5)
        kw.setdefault("sleep", sleeps.append)
        base_url = str(kw.pop("base_url", fake_llm.base_url))
        llm = LLMSummarizer(base_url, str(kw.pop("model", MODEL)), **kw)  # type: ignore[arg-type]
        made.append(llm)
        return llm

    yield build
    for llm in made:
        llm.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# The request


def test_request_carries_model_prompt_title_and_text(fake_llm, make_llm):
    fake_llm.reply = Answer(FR_SUMMARY)
    llm = make_llm()
    assert llm.summarize(FR_TEXT, title=FR_TITLE, language="fr", max_words=40) == FR_SUMMARY

    (call,) = fake_llm.calls
    assert call.path == "/v1/chat/completions"
    assert call.headers["Content-Type"] == "application/json"
    assert "Authorization" not in call.headers
    body = call.body
    assert body["model"] == MODEL
    assert body["temperature"] == 0.2
    assert body["max_tokens"] == 160
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "résumé neutre et factuel" in call.system
    assert "en français" in call.system and "40 mots au maximum" in call.system
    assert "pas de préambule" in call.system
    assert call.user.startswith(f"Titre : {FR_TITLE}\n\nArticle :\n")
    assert call.user.endswith(FR_TEXT.strip())


@pytest.mark.parametrize(
    "language, system, user",
    [
        ("fr", "en français", "Titre : "),
        ("fr-FR", "en français", "Titre : "),
        ("en", "in English", "Title: "),
        ("ar", "باللغة العربية", "العنوان: "),
        ("de", "in German", "Title: "),  # English prompt naming the language
        ("", "in the same language as the article", "Title: "),
    ],
)
def test_prompt_is_in_the_article_language(fake_llm, make_llm, language, system, user):
    fake_llm.reply = Answer("Ok")  # too short for the language check
    make_llm().summarize("Quelques mots d'un article.", title="Un titre", language=language)
    call = fake_llm.calls[-1]
    assert system in call.system
    assert call.user.startswith(user + "Un titre")


def test_no_title_no_title_line(fake_llm, make_llm):
    fake_llm.reply = Answer(EN_SUMMARY)
    make_llm().summarize(EN_TEXT, language="en", max_words=40)
    assert fake_llm.calls[-1].user.startswith("Article:\n")


def test_key_goes_in_the_authorization_header_only_when_set(fake_llm, make_llm):
    fake_llm.api_key = "sk-test-secret"
    fake_llm.reply = Answer(EN_SUMMARY)
    llm = make_llm(api_key="sk-test-secret")
    assert llm.summarize(EN_TEXT, language="en", max_words=40) == EN_SUMMARY
    assert fake_llm.calls[-1].headers["Authorization"] == "Bearer sk-test-secret"
    assert "sk-test-secret" not in repr(llm)


@pytest.mark.parametrize("suffix", ["", "/", "/chat/completions"])
def test_base_url_joined_with_or_without_slash(fake_llm, make_llm, suffix):
    fake_llm.reply = Answer(EN_SUMMARY)
    make_llm(base_url=fake_llm.base_url + suffix).summarize(EN_TEXT, language="en")
    assert fake_llm.calls[-1].path == "/v1/chat/completions"


def test_input_cut_to_max_input_chars_at_a_boundary(fake_llm, make_llm):
    fake_llm.reply = Answer(FR_SUMMARY)
    make_llm(max_input_chars=300).summarize(FR_TEXT, title=FR_TITLE, language="fr")
    sent = fake_llm.calls[-1].user.split("Article :\n", 1)[1]
    assert 150 <= len(sent) <= 300
    assert FR_TEXT.startswith(sent)
    assert sent.endswith(".")


def test_truncate_prefers_paragraph_then_sentence_then_word():
    text = "Première phrase assez longue ici. Deuxième phrase.\n\nTroisième paragraphe qui suit."
    assert truncate(text, 60) == "Première phrase assez longue ici. Deuxième phrase."
    assert truncate(text, 45) == "Première phrase assez longue ici."
    assert truncate("un deux trois quatre cinq six", 16) == "un deux trois"
    assert truncate("court", 100) == "court"
    assert len(truncate("x" * 50, 10)) == 10  # one long word: cut it, there is no choice


# Written for these tests: Tokyo makes school lunches free; Beijing opens metro lines.
JA_SUMMARY = (
    "東京都は来年四月から、都内のすべての公立小学校で給食を無料にすると発表した。"
    "対象は約六十万人の児童で、費用は年間三百億円に上る見込みだ。"
)
JA_TEXT = JA_SUMMARY + "知事は記者会見で、子育て世帯の負担を減らしたいと述べた。"
HI_SUMMARY = "पुलिस ने दो लोगों को गिरफ्तार किया। जांच जारी है।"
ZH_SUMMARY = (
    "北京市政府周三宣布，将在明年春季开通三条新的地铁线路。新线路预计每天运送一百万名乘客。"
)


def test_truncate_cuts_chinese_and_japanese_at_their_full_stop():
    # no space follows 。, yet it is a sentence end, not a place to cut a word in two
    assert truncate(JA_TEXT, 60) == JA_TEXT[: JA_TEXT.index("。") + 1]
    assert truncate(JA_TEXT, 80) == JA_SUMMARY


@pytest.mark.parametrize(
    "answer, language, expected",
    [
        # two paragraphs, each ending on 。: not a title, and joined without a space
        (JA_SUMMARY.replace("。", "。\n\n", 1), "ja", JA_SUMMARY),
        (ZH_SUMMARY.replace("。", "。\n", 1), "zh", ZH_SUMMARY),
        (HI_SUMMARY.replace("। ", "।\n\n"), "", HI_SUMMARY),
    ],
)
def test_check_summary_knows_every_sentence_end_mark(answer, language, expected):
    assert check_summary(answer, language=language, max_words=60) == expected


# ---------------------------------------------------------------------------------------------
# Retries and HTTP errors


def test_500_then_success_is_retried_with_backoff(fake_llm, make_llm, sleeps):
    fake_llm.queue(Answer(status=500))
    fake_llm.reply = Answer(EN_SUMMARY)
    assert make_llm(backoff=0.5).summarize(EN_TEXT, language="en") == EN_SUMMARY
    assert len(fake_llm.calls) == 2
    assert len(sleeps) == 1 and 0.25 <= sleeps[0] <= 0.75


def test_backoff_doubles(fake_llm, make_llm, sleeps):
    fake_llm.queue(Answer(status=502), Answer(status=503), Answer(status=500))
    fake_llm.reply = Answer(EN_SUMMARY)
    make_llm(max_retries=3, backoff=1.0).summarize(EN_TEXT, language="en")
    assert len(sleeps) == 3
    assert 0.5 <= sleeps[0] <= 1.5 and 1.0 <= sleeps[1] <= 3.0 and 2.0 <= sleeps[2] <= 6.0


@pytest.mark.parametrize("retry_after, waited", [("3", 3.0), ("120", 10.0), ("soon", None)])
def test_429_honours_retry_after_up_to_a_cap(fake_llm, make_llm, sleeps, retry_after, waited):
    fake_llm.queue(Answer(status=429, headers={"Retry-After": retry_after}))
    fake_llm.reply = Answer(EN_SUMMARY)
    assert make_llm(backoff=0.1).summarize(EN_TEXT, language="en") == EN_SUMMARY
    assert len(fake_llm.calls) == 2
    if waited is None:  # unreadable header: the usual backoff
        assert len(sleeps) == 1 and sleeps[0] <= 0.15
    else:
        assert sleeps == [waited]


def test_retries_are_bounded(fake_llm, make_llm, sleeps):
    fake_llm.reply = Answer(status=503)
    with pytest.raises(LLMError) as caught:
        make_llm(max_retries=2).summarize(EN_TEXT, language="en")
    assert len(fake_llm.calls) == 3 and len(sleeps) == 2
    message = str(caught.value)
    assert fake_llm.base_url + "/chat/completions" in message
    assert "HTTP 503" in message and "fake failure 503" in message and "3 attempts" in message
    assert caught.value.retryable and caught.value.status == 503


def test_no_retries_when_max_retries_is_zero(fake_llm, make_llm, sleeps):
    fake_llm.reply = Answer(status=500)
    with pytest.raises(LLMError):
        make_llm(max_retries=0).summarize(EN_TEXT, language="en")
    assert len(fake_llm.calls) == 1 and sleeps == []


def test_timeout_is_retried_then_falls_back(fake_llm, make_llm, caplog):
    fake_llm.reply = Answer(EN_SUMMARY, delay=5)
    llm = make_llm(timeout=0.2, max_retries=1)
    with caplog.at_level(logging.WARNING, logger="newsletter.summarize.llm"):
        result = summarize_with_fallback(
            EN_TEXT, title=EN_TITLE, language="en", max_words=40, llm=llm
        )
    assert result == summarize(EN_TEXT, title=EN_TITLE, language="en", max_words=40)
    assert result.method == "extractive"
    assert len(fake_llm.calls) == 2
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "no answer within 0.2s" in record.getMessage()
    assert EN_TITLE in record.getMessage()


def test_unreachable_endpoint(make_llm, sleeps):
    llm = make_llm(base_url=f"http://127.0.0.1:{free_port()}/v1", max_retries=1)
    with pytest.raises(LLMError, match=r"cannot connect") as caught:
        llm.summarize(EN_TEXT, language="en")
    assert len(sleeps) == 1 and caught.value.retryable


def test_401_is_not_retried_and_names_the_variable_not_the_key(fake_llm, make_llm, caplog):
    fake_llm.api_key = "sk-the-right-one"
    llm = make_llm(api_key="sk-wrong-secret-123")
    with pytest.raises(LLMError) as caught:
        llm.summarize(EN_TEXT, language="en")
    message = str(caught.value)
    assert "HTTP 401" in message and ENV_API_KEY in message
    assert "Incorrect API key provided." in message
    assert "sk-wrong-secret-123" not in message
    assert len(fake_llm.calls) == 1

    with caplog.at_level(logging.DEBUG):
        result = summarize_with_fallback(EN_TEXT, title="", language="en", max_words=40, llm=llm)
    assert result.method == "extractive"
    assert "sk-wrong-secret-123" not in caplog.text
    assert ENV_API_KEY in caplog.text


def test_an_endpoint_echoing_the_key_is_masked(fake_llm, make_llm):
    fake_llm.reply = Answer(status=403, body={"error": {"message": "key sk-echoed-777 is banned"}})
    with pytest.raises(LLMError) as caught:
        make_llm(api_key="sk-echoed-777").summarize(EN_TEXT, language="en")
    assert "sk-echoed-777" not in str(caught.value) and "key *** is banned" in str(caught.value)


def test_404_points_at_the_base_url(fake_llm, make_llm):
    llm = make_llm(base_url=fake_llm.base_url.replace("/v1", "/api"))
    with pytest.raises(LLMError, match=r"HTTP 404.*summarize\.llm_base_url"):
        llm.summarize(EN_TEXT, language="en")
    assert len(fake_llm.calls) == 1


def test_400_carries_the_endpoint_message(fake_llm, make_llm):
    with pytest.raises(LLMError, match=r"HTTP 400: you must provide a model parameter"):
        make_llm(model="").summarize(EN_TEXT, language="en")
    assert len(fake_llm.calls) == 1


# ---------------------------------------------------------------------------------------------
# Unusable answers fall back to the extractive summary


@pytest.mark.parametrize(
    "answer, reason",
    [
        (Answer(raw=b'{"choices": [{"message": '), "the answer is not JSON"),
        (Answer(body={"object": "chat.completion", "model": MODEL}), "the answer has no choices"),
        (Answer(body={"choices": []}), "the answer has no choices"),
        (Answer(body={"choices": [{"message": {"role": "assistant"}}]}), "no message content"),
        (Answer(None), "no message content"),
        (Answer("  \n "), "the answer is empty"),
        (Answer('""'), "the answer is empty"),
        (Answer(FR_SUMMARY, finish_reason="length"), "cut at max_tokens=160"),
        (Answer(" ".join([FR_SUMMARY] * 2)), "60 words, over the budget of 40"),
        (Answer("Voici un résumé de l'article : " + FR_SUMMARY), "preamble"),
        (Answer("Voici le résumé demandé.\n\n" + FR_SUMMARY), "preamble"),
        (Answer("Résumé de l'article en 40 mots : " + FR_SUMMARY), "preamble"),
        (Answer("Bien sûr ! " + FR_SUMMARY), "preamble"),
        (Answer("Here is a summary of the article: " + FR_SUMMARY), "preamble"),
        (Answer(FR_SUMMARY + " N'hésitez pas si vous voulez plus."), "talks to the reader"),
        (Answer(EN_SUMMARY), "the answer is in 'en', not in the article's 'fr'"),
        (Answer("- Nouvelle ligne de tramway.\n- Retard de trois mois."), "is a list"),
        (Answer("## Tramway\nLa ligne est ouverte."), "headings"),
        (Answer("Le tramway de Valmont\n\n" + FR_SUMMARY), "starts with a title"),
        (Answer("<think>Je dois résumer l'article en français"), "unfinished <think>"),
        (Answer(status=400, body={"error": {"message": "context length exceeded"}}), "HTTP 400"),
    ],
)
def test_unusable_answer_falls_back_to_extractive(fake_llm, make_llm, caplog, answer, reason):
    fake_llm.reply = answer
    llm = make_llm()
    with caplog.at_level(logging.WARNING, logger="newsletter.summarize.llm"):
        result = summarize_with_fallback(
            FR_TEXT, title=FR_TITLE, language="fr", max_words=40, llm=llm
        )
    assert result == summarize(FR_TEXT, title=FR_TITLE, language="fr", max_words=40)
    assert result.method == "extractive"
    assert len(fake_llm.calls) == 1  # answers are not retried: the fallback is cheap
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert reason in message
    assert fake_llm.base_url in message and "extractive summary used instead" in message
    assert "onze kilomètres, elle relie" not in caplog.text  # never the article


@pytest.mark.parametrize(
    "text, title, language, answer, reason",
    [
        (AR_TEXT, AR_TITLE, "ar", "إليك ملخص المقال: " + AR_SUMMARY, "preamble"),
        (AR_TEXT, AR_TITLE, "ar", "ملخص المقال المطلوب: " + AR_SUMMARY, "preamble"),
        (AR_TEXT, AR_TITLE, "ar", FR_SUMMARY, "not in the article's 'ar'"),
        (EN_TEXT, EN_TITLE, "en", "Sure! " + EN_SUMMARY, "preamble"),
        (EN_TEXT, EN_TITLE, "en", FR_SUMMARY, "not in the article's 'en'"),
    ],
)
def test_unusable_answer_in_other_languages(
    fake_llm, make_llm, caplog, text, title, language, answer, reason
):
    fake_llm.reply = Answer(answer)
    with caplog.at_level(logging.WARNING, logger="newsletter.summarize.llm"):
        result = summarize_with_fallback(
            text, title=title, language=language, max_words=40, llm=make_llm()
        )
    assert result.method == "extractive" and result.language == language
    assert reason in caplog.text


@pytest.mark.parametrize(
    "answer",
    [
        FR_SUMMARY,
        f"« {FR_SUMMARY} »",
        f'"{FR_SUMMARY}"',
        f"Résumé : {FR_SUMMARY}",
        f"**Résumé :** {FR_SUMMARY}",
        f"  \n{FR_SUMMARY}\n\n",
        f"<think>\nL'article parle d'un tramway.\n</think>\n\n{FR_SUMMARY}",
        FR_SUMMARY.replace(" ; ", ".\n\nLes ", 1).replace("Les les", "Les"),
    ],
)
def test_accepted_answers_are_cleaned(fake_llm, make_llm, caplog, answer):
    fake_llm.reply = Answer(answer)
    with caplog.at_level(logging.WARNING):
        result = summarize_with_fallback(
            FR_TEXT, title=FR_TITLE, language="fr", max_words=40, llm=make_llm()
        )
    assert result.method == "llm" and result.language == "fr"
    assert result.text.startswith("La deuxième ligne du tramway")
    assert result.text.endswith("indemnisation.")
    assert "\n" not in result.text and count_words(result.text) <= 40
    assert caplog.records == []


@pytest.mark.parametrize(
    "text, language",
    [
        (AR_SUMMARY, "ar"),
        (EN_SUMMARY, "en"),
        ("Talks resumed: the unions met the minister on Monday in Paris.", "en"),
        ("Le ministre a déclaré : « Nous tiendrons les délais. »", "fr"),
        ("Short in English.", "fr"),  # too short to judge the language
        (EN_SUMMARY, ""),  # no language to compare with
    ],
)
def test_check_summary_keeps_ordinary_summaries(text, language):
    assert check_summary(text, language=language, max_words=60) == text


def test_arabic_summary_accepted(fake_llm, make_llm):
    fake_llm.reply = Answer(AR_SUMMARY)
    result = summarize_with_fallback(
        AR_TEXT, title=AR_TITLE, language="ar", max_words=40, llm=make_llm()
    )
    assert result.method == "llm" and result.text == AR_SUMMARY
    assert "باللغة العربية" in fake_llm.calls[-1].system


def test_budget_counts_words_like_count_words(fake_llm, make_llm):
    fake_llm.reply = Answer(EN_SUMMARY)
    words = count_words(EN_SUMMARY)
    assert make_llm().summarize(EN_TEXT, language="en", max_words=words) == EN_SUMMARY
    with pytest.raises(LLMError, match=f"{words} words, over the budget of {words - 1}"):
        make_llm().summarize(EN_TEXT, language="en", max_words=words - 1)


def test_without_llm_the_extractive_summary_is_used(fake_llm, caplog):
    with caplog.at_level(logging.WARNING):
        result = summarize_with_fallback(
            FR_TEXT, title=FR_TITLE, language="fr", max_words=40, llm=None
        )
    assert result.method == "extractive" and caplog.records == []
    assert fake_llm.calls == []


def test_unusable_text_raises_without_calling_the_model(fake_llm, make_llm):
    with pytest.raises(InputError):
        summarize_with_fallback("  \n", title="", language="fr", max_words=40, llm=make_llm())
    with pytest.raises(LLMError, match="no article text"):
        make_llm().summarize("   ")
    assert fake_llm.calls == []


# ---------------------------------------------------------------------------------------------
# Many at once


def test_summarize_many_respects_concurrency_and_returns_per_key(fake_llm, make_llm):
    def reply(call: Call) -> Answer:
        if "Valmont" in call.user:
            return Answer(FR_SUMMARY, delay=0.3)
        if "Harbour" in call.user:
            return Answer(EN_SUMMARY, delay=0.3)
        return Answer("", delay=0.3)

    fake_llm.reply = reply
    items = [
        (1, FR_TEXT, FR_TITLE, "fr"),
        (2, EN_TEXT, EN_TITLE, "en"),
        ("three", FR_TEXT, "", "fr"),
        (4, "Un article sans réponse du modèle, sur un sujet quelconque.", "", "fr"),
        (5, EN_TEXT, "", "en"),
    ]
    results = make_llm(concurrency=2).summarize_many(items, max_words=40)
    assert fake_llm.max_in_flight == 2
    assert len(fake_llm.calls) == 5
    assert results[1] == FR_SUMMARY and results["three"] == FR_SUMMARY
    assert results[2] == EN_SUMMARY and results[5] == EN_SUMMARY
    assert isinstance(results[4], LLMError) and "empty" in str(results[4])
    assert list(results) == [1, 2, "three", 4, 5]


def test_concurrency_holds_across_threads_and_calls(fake_llm, make_llm):
    """The limit is the client's, not one call's: two summarize_many at once share it."""
    fake_llm.reply = Answer(EN_SUMMARY, delay=0.2)
    llm = make_llm(concurrency=3)
    items = [(i, EN_TEXT, "", "en") for i in range(4)]
    threads = [threading.Thread(target=llm.summarize_many, args=(items, 40)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(fake_llm.calls) == 8
    assert fake_llm.max_in_flight <= 3


def test_summarize_many_of_nothing(make_llm):
    assert make_llm().summarize_many([], max_words=40) == {}


# ---------------------------------------------------------------------------------------------
# Configuration


def _llm_config(make_config: Callable[..., Config], base_url: str) -> Config:
    return make_config(
        summarize={
            "method": "llm",
            "max_words": 40,
            "llm_base_url": base_url,
            "llm_model": "mistral-small-latest",
            "llm_timeout": 7.5,
            "llm_max_retries": 1,
            "llm_concurrency": 3,
            "llm_max_input_chars": 500,
        }
    )


def test_from_config_reads_the_key_from_the_environment(fake_llm, make_config, monkeypatch):
    monkeypatch.setenv(ENV_API_KEY, "sk-from-env")
    config = _llm_config(make_config, fake_llm.base_url)
    fake_llm.reply = Answer(FR_SUMMARY)
    with LLMSummarizer.from_config(config.summarize) as llm:
        assert (llm.model, llm.timeout, llm.max_retries, llm.concurrency) == (
            "mistral-small-latest",
            7.5,
            1,
            3,
        )
        assert llm.max_input_chars == 500
        llm.summarize(FR_TEXT, language="fr", max_words=config.summarize.max_words)
    call = fake_llm.calls[-1]
    assert call.headers["Authorization"] == "Bearer sk-from-env"
    assert call.body["model"] == "mistral-small-latest"


def test_from_config_without_key_sends_no_authorization(fake_llm, make_config, monkeypatch):
    monkeypatch.delenv(ENV_API_KEY, raising=False)
    fake_llm.reply = Answer(FR_SUMMARY)
    with LLMSummarizer.from_config(_llm_config(make_config, fake_llm.base_url).summarize) as llm:
        llm.summarize(FR_TEXT, language="fr")
    assert "Authorization" not in fake_llm.calls[-1].headers


def test_from_config_needs_an_endpoint(make_config):
    with pytest.raises(ConfigError, match=r"summarize\.llm_base_url"):
        LLMSummarizer.from_config(make_config().summarize)


def test_a_url_without_http_scheme_is_not_retried(make_llm, sleeps):
    with pytest.raises(LLMError, match=r"invalid URL .*summarize\.llm_base_url"):
        make_llm(base_url="ftp://127.0.0.1:1/v1").summarize(EN_TEXT, language="en")
    assert sleeps == []
