"""``labourkb es``: a local Elasticsearch for development (scripts/elasticsearch.sh)."""

from __future__ import annotations

import json

import click


@click.group()
def es() -> None:
    """Run a local Elasticsearch for development (scripts/elasticsearch.sh)."""


def _es_server():
    """``engines.es_server``, whose script exists only in a source checkout (not in the wheel)."""
    from search_api.engines import es_server

    if not es_server.SCRIPT.exists():
        raise click.ClickException(
            "labourkb es start/stop 只用于源码目录中的开发环境（scripts/elasticsearch.sh）；"
            "正式部署请设置 LABOURKB_ENGINE=elasticsearch 和 LABOURKB_ES_URL 连接你的 Elasticsearch"
        )
    return es_server


@es.command("start")
def es_start() -> None:
    """Start (or reuse) the local server and wait for yellow health.

    Example: labourkb es start
    """
    click.echo(_es_server().ensure_running())


@es.command("stop")
def es_stop() -> None:
    """Stop the local server.

    Example: labourkb es stop
    """
    _es_server().stop()


@es.command("status")
def es_status() -> None:
    """Print whether the local server is up.

    Example: labourkb es status
    """
    from search_api.engines import es_server

    click.echo(json.dumps(es_server.status(), ensure_ascii=False, indent=2))
