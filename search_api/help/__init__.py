"""我要维权: workers' help requests, the district desk, lawyers' answers, published 问答.

``help_service`` builds the app's ``HelpService`` from the settings (keys, calendar, limits).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from search_api.help.calendar import WorkCalendar
from search_api.help.sealing import Sealer
from search_api.help.service import HelpService

if TYPE_CHECKING:
    from search_api.accounts.store import Store
    from search_api.cases.index import CaseIndex
    from search_api.settings import Settings


def help_service(settings: Settings, store: Store, index: CaseIndex | None = None) -> HelpService:
    """The help service over the app store, sealing with the configured keys."""
    from search_api.monitoring.querylog import load_secret

    secret = load_secret(settings)
    return HelpService(
        store.help,
        store.users,
        Sealer.from_settings(settings.data_keys, secret),
        WorkCalendar.from_file(settings.holidays_file),
        secret=secret,
        callback_days=settings.help_callback_days,
        per_hour=settings.help_per_hour,
        citations=index.citations if index is not None else None,
    )
