"""`newsletter demo`: the pipeline so far, offline, on the sample content of the configuration.

Until editions exist the cycle is: migrate the store, collect every source, enrich, summarize,
then print each article with its language, tags, story and summary. Running it again adds
nothing (every article is already known), which is itself part of the demonstration.
"""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from newsletter.collect.run import collect
from newsletter.config import Config, is_remote, safe_url
from newsletter.enrich.pending import enrich_pending
from newsletter.errors import ConfigError
from newsletter.store.db import Store, make_engine, migrate
from newsletter.store.models import Article
from newsletter.summarize.pending import summarize_pending


def run_demo(config: Config, console: Console) -> None:
    remote = [s.name for s in config.sources if s.enabled and is_remote(s.url)]
    if remote:
        raise ConfigError(
            f"the demo runs offline, but these sources need the network: {', '.join(remote)} "
            "(use the bundled newsletter.toml, or run 'newsletter collect')"
        )
    engine = make_engine(config.database_url)
    migrate(engine)
    engine.dispose()
    console.print(f"[bold]Store[/bold] {safe_url(config.database_url)} ready.")
    store = Store(config.database_url)
    with store.session() as session:
        reports = collect(session, config)
        for r in reports:
            console.print(
                f"  collected [bold]{r.name}[/bold]: {r.new} new, {r.known} already known, "
                f"{len(r.errors)} errors", highlight=False,
            )
            for message in r.errors:
                console.print(f"    [yellow]{message}[/yellow]", highlight=False)
        enriched = enrich_pending(session, config)
        summarized = summarize_pending(session, config)
        console.print(f"  enriched {len(enriched)}, summarized {summarized}.\n")
        articles = session.scalars(
            select(Article)
            .options(selectinload(Article.tags), selectinload(Article.summary), selectinload(Article.source))
            .order_by(Article.published_at.desc().nulls_last(), Article.id)
        ).all()
        stories: dict[int | None, int] = {}
        for a in articles:
            stories[a.story_id] = stories.get(a.story_id, 0) + 1
        for a in articles:
            tags = ", ".join(f"{t.tag} ({t.origin})" for t in a.tags) or "none"
            shared = stories[a.story_id] > 1
            story = f"story {a.story_id}" + (" [bold](same story as another source)[/bold]" if shared else "")
            summary = a.summary.text if a.summary else "(no summary)"
            body = (
                f"[dim]{a.source.name if a.source else '?'} · {a.language or '?'} · "
                f"{a.published_at:%Y-%m-%d %H:%M} UTC[/dim]\n" if a.published_at else
                f"[dim]{a.source.name if a.source else '?'} · {a.language or '?'}[/dim]\n"
            )
            body += f"tags: {tags}\n{story}\n\n{summary}"
            console.print(Panel(body, title=a.title, title_align="left", expand=True), highlight=False)
    store.close()
    console.print(
        f"{len(articles)} articles in the store. Run 'make demo' again: nothing is added twice."
    )
