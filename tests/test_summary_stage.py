"""The summarize stage over the store (SQLite and PostgreSQL): once per article and method,
redone for a day after a method change, and never over an editor's summary."""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import select

from newsletter.collect.article import CollectedArticle
from newsletter.collect.store import add_article
from newsletter.enrich.pending import enrich_pending
from newsletter.store.db import Store
from newsletter.store.models import Article
from newsletter.summarize.pending import resummarize, summarize_pending

from .support.fake_llm import fake_llm  # noqa: F401 (fixture)

DAY = date(2026, 11, 27)
TEXTS = [
    "Le tramway de la ville a transporté un million de voyageurs en octobre. C’est un record depuis sa mise en service. La régie prévoit deux rames de plus au printemps. Les usagers réclament des passages plus fréquents le soir.",
    "Le marché de gros a rouvert lundi après trois mois de travaux. Les commerçants disposent désormais de quais couverts. La mairie promet un parking agrandi l’an prochain.",
    "La bibliothèque municipale prolonge ses horaires pendant les examens. Elle ouvrira jusqu’à vingt-deux heures du lundi au jeudi. Les étudiants saluent une mesure attendue.",
]


def _newsroom(store: Store, make_config, method: str = "extractive"):  # noqa: ANN001, ANN202
    config = make_config(summarize={"method": method, "max_words": 25})
    with store.session() as session:
        for n, text in enumerate(TEXTS):
            add_article(session, None, CollectedArticle(
                title=f"Brève {n}", text=text, url=f"https://ville.example/{n}", language="fr",
                published=datetime(2026, 11, 27, 8 + n, tzinfo=timezone.utc),
            ))
        enrich_pending(session, config)
    return config


def test_each_article_is_summarized_once(store: Store, make_config) -> None:
    config = _newsroom(store, make_config)
    with store.session() as session:
        assert summarize_pending(session, config) == 3
        assert summarize_pending(session, config) == 0
        for article in session.scalars(select(Article)):
            assert article.summary.method == "extractive" and article.summary.language == "fr"
            assert len(article.summary.text.split()) <= 25


def test_resummarize_a_day_after_a_method_change_keeps_editor_summaries(store: Store, make_config) -> None:
    config = _newsroom(store, make_config)
    with store.session() as session:
        summarize_pending(session, config)
        edited = session.scalars(select(Article).order_by(Article.id)).first()
        edited.summary.text, edited.summary.edited = "Résumé écrit par la rédaction.", True
    lead = make_config(summarize={"method": "lead", "max_words": 25})
    with store.session() as session:
        assert resummarize(session, lead, DAY) == 2
        assert resummarize(session, lead, DAY) == 0  # already by that method
        assert resummarize(session, lead, date(2026, 11, 28)) == 0  # another day
        assert resummarize(session, lead, DAY, force=True) == 2  # never the editor's
        summaries = {a.id: a.summary for a in session.scalars(select(Article))}
        assert summaries[edited.id].text == "Résumé écrit par la rédaction."
        assert {s.method for i, s in summaries.items() if i != edited.id} == {"lead"}


def test_the_llm_method_with_fallback_per_article(store: Store, make_config, fake_llm, caplog) -> None:
    """Model answers are kept as 'llm'; an unusable one falls back to the extractive summary."""
    from .support.fake_llm import Answer

    def answer(call) -> Answer:  # noqa: ANN001
        if "tramway" in call.user:
            return Answer(content="Le tramway a transporté un million de voyageurs en octobre, un record.")
        if "marché" in call.user:
            return Answer(content="Voici un résumé de l’article : le marché rouvre.")  # a preamble
        return Answer(status=500, content=None)

    fake_llm.reply = answer
    config = _newsroom(store, make_config)
    llm = make_config(summarize={
        "method": "llm", "max_words": 25, "llm_base_url": fake_llm.base_url, "llm_model": "test-model",
        "llm_max_retries": 0,
    })
    with store.session() as session:
        assert summarize_pending(session, llm) == 3
        methods = {a.title: (a.summary.method, a.summary.text) for a in session.scalars(select(Article))}
    assert methods["Brève 0"] == ("llm", "Le tramway a transporté un million de voyageurs en octobre, un record.")
    assert methods["Brève 1"][0] == "extractive" and "Voici" not in methods["Brève 1"][1]
    assert methods["Brève 2"][0] == "extractive"
    assert "the model's summary was not used" in caplog.text
    # the fallbacks are tried again by the model after a method change check, the llm ones are not
    with store.session() as session:
        assert resummarize(session, llm, DAY) == 2
    assert config.summarize.method == "extractive"
