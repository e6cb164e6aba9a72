"""``labourkb report``: the weekly report for the union's meeting, printed or sent to the webhooks."""

from __future__ import annotations

import json

import click


@click.group("report")
def report_group() -> None:
    """Reports on the query log and help requests."""


@report_group.command("weekly")
@click.option("--week", default="", help="ISO week such as 2026-W48 (default: the last complete week).")
@click.option("--district", default="", help="Only this district.")
@click.option("--send", is_flag=True, help="Send it to LABOURKB_WEBHOOK_URLS (once per week and URL).")
def report_weekly(week: str, district: str, send: bool) -> None:
    """Print the weekly report as JSON; with --send, also post it (signed) to the webhooks unless a
    server process or an earlier run already did.

    Example: labourkb report weekly --send   (cron, Mondays 08:00 Asia/Shanghai)
    """
    from search_api.monitoring import weekly
    from search_api.monitoring.weekly import help_for
    from search_api.settings import get_settings

    settings = get_settings()
    monday = weekly.parse_week(week or None)
    report = weekly.build_report(
        settings,
        help_for(settings),
        monday,
        district=district or None,
        topic_names=weekly.load_topic_names(settings),
    )
    click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    if send:
        if not settings.webhook_url_list:
            raise click.ClickException("没有配置 LABOURKB_WEBHOOK_URLS，无法发送周报")
        states = weekly.send_report(settings, report)
        if not states:
            click.echo(f"{report['week']} 的周报已经发送过（或正由另一个进程发送），这次不再发送", err=True)
        for url, state in states.items():
            click.echo(f"{url}: {state}", err=True)
        if any(state != "delivered" for state in states.values()):
            raise click.ClickException("部分 webhook 未能送达")
