"""The long-running processes: `newsletter serve` and `newsletter daemon`."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from newsletter.cli.base import cli, config_of, store_of


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True,
              help="Port to listen on.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """The web app: subscribe, confirm and unsubscribe pages, the SendGrid event webhook."""
    import uvicorn

    from newsletter.config import check_templates
    from newsletter.web import create_app

    config = config_of(ctx)
    check_templates(config)  # every page needs them: say so now, not as a 500 on each request
    store = store_of(ctx)
    try:
        app = create_app(config, store)
        # Client addresses from X-Forwarded-For only when the proxy is on this machine.
        uvicorn.run(app, host=host, port=port, proxy_headers=True, log_level="info")
    finally:
        store.close()


def _instant(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date and time (2026-10-25T05:29:57Z)") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@cli.command()
@click.option("--log-format", type=click.Choice(["plain", "json"]), default="plain", show_default=True,
              help="Log lines as text, or one JSON object per line.")
@click.option("--clock-start", callback=_instant, hidden=True,
              help="Tests only: the daemon's clock reads this instant (UTC unless given) when it "
                   "starts scheduling, then runs at the real pace.")
@click.pass_context
def daemon(ctx: click.Context, log_format: str, clock_start: datetime | None) -> None:
    """Run the schedule: collect sources, build drafts, send editions at each list's time.

    One daemon per store: a second one waits as standby and takes over when the first dies.
    SIGTERM or Ctrl-C: the job in hand finishes, then it stops (exit status 0).
    """
    import signal

    from newsletter.daemon import Daemon
    from newsletter.logs import configure_logging

    configure_logging(log_format)
    runner = Daemon(ctx.obj["config_path"], clock_start=clock_start)

    def request_stop(signum: int, _frame: object) -> None:
        runner.request_stop(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        runner.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
