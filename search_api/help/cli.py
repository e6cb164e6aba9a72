"""``labourkb help``: the keys that seal workers' personal data in help requests."""

from __future__ import annotations

import click

from search_api import db


@click.group("help")
def help_group() -> None:
    """Help requests (我要维权): keys for the personal data they hold."""


@help_group.command("new-key")
def help_new_key() -> None:
    """Print a new key for LABOURKB_DATA_KEYS (put it first to rotate; keep the old ones after it).

    Example: labourkb help new-key
    """
    from search_api.help.sealing import new_key

    click.echo(new_key())


@help_group.command("reseal")
def help_reseal() -> None:
    """Seal every stored personal value again with the first key of LABOURKB_DATA_KEYS (after a
    rotation; the old keys can then be removed).

    Example: LABOURKB_DATA_KEYS=new,old labourkb help reseal
    """
    from search_api.accounts.store import Store
    from search_api.help import help_service
    from search_api.settings import get_settings

    settings = get_settings()
    service = help_service(settings, Store(db.app_database(settings)))
    click.echo(f"resealed {service.store.reseal(service.sealer.reseal)} values")
