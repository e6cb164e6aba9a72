"""Application wiring only: settings, engine, service, templates, routers, error handlers."""

from __future__ import annotations

import gc
import logging
import threading
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles

from search_api import db
from search_api.accounts.store import Store
from search_api.calc import CALCULATORS, load_local_wages
from search_api.cases.index import CaseIndex
from search_api.cases.workflow import CaseService
from search_api.engines import get_engine
from search_api.help import help_service
from search_api.monitoring.gap_actions import GapActions
from search_api.routes import api, calc, desk, docs, gaps, help, lawyers, logs, pages, review
from search_api.routes import auth as auth_routes
from search_api.search.additions import AdditionStore
from search_api.search.live_additions import LiveAdditions
from search_api.search.service import SearchService
from search_api.search.steps_config import load_for as load_next_steps
from search_api.settings import Settings, get_settings
from search_api.web import errors, openapi
from search_api.web.assets import STATIC_PREFIX, HashedStaticFiles
from search_api.web.security import SecurityHeaders
from search_api.web.templating import configure, site_templates

# Smaller bodies are sent as they are: the gzip header and CPU would cost more than they save.
GZIP_MIN_BYTES = 1024
log = logging.getLogger("labourkb")


def _warm(service: SearchService) -> None:
    try:
        log.info("warmed %d query terms", service.warm_up())
    except Exception:  # warming is an optimisation: an engine that is down now is reported by searches
        log.warning("cache warm-up skipped", exc_info=True)


def create_app(settings: Settings | None = None, *, warm_first: bool = False) -> FastAPI:
    """The app. ``warm_first``: its start-up ends only once the semantic layer is loaded and the
    term caches are warm (a worker process of ``web.server`` listens after that); otherwise both
    happen in the background while it already answers."""
    settings = settings or get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # a bounded pool: every thread keeps its own index connection (and its memory)
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        service = app.state.service
        if warm_first:
            await anyio.to_thread.run_sync(lambda: service.semantic.start(background=False))
            if settings.warm_cache:
                await anyio.to_thread.run_sync(_warm, service)
            # what start-up built (index caches, lexicon, model) stays for the process's life: out of
            # the collector's full passes, which walked all of it under load (docs/benchmarks.md, session 18)
            gc.collect()
            gc.freeze()
        else:
            service.semantic.start()
            if settings.warm_cache:
                threading.Thread(target=_warm, args=(service,), name="cache-warm-up", daemon=True).start()
        yield
        if app.state.querylog is not None:
            app.state.querylog.close()
        for part in app.state.monitor:
            part.close()
        app.state.additions.close()
        app.state.service.semantic.close()
        app.state.engine.close()

    app = FastAPI(
        title="labourkb 劳动法知识库",
        description=(
            "Search Chinese labour law: articles, cases, policies. JSON API used by the site and by other tools."
        ),
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by routes.docs from local files, not a CDN
        redoc_url=None,
    )
    app.add_middleware(SecurityHeaders)
    # HTML, JSON, CSS and the NDJSON feed (flushed per chunk, so it still streams); level 6
    # is zlib's default: nearly level 9's size for a fraction of its CPU.
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES, compresslevel=6)
    openapi.install(app)
    engine = get_engine(settings)
    app.state.settings = settings
    app.state.engine = engine
    app.state.service = SearchService(settings, engine)
    app_db = db.app_database(settings)  # accounts, cases, help requests …: SQLite file or PostgreSQL
    app.state.store = Store(app_db)
    # reviewed everyday questions and thesaurus lines (the gap report's fixes), checked before each search
    app.state.additions = AdditionStore(app_db)
    app.state.live_additions = LiveAdditions(app.state.additions, app.state.service)
    app.state.service.before_search = app.state.live_additions.sync
    app.state.gap_actions = GapActions(app_db)
    app.state.local_wages = load_local_wages(settings.local_wages_file)  # calculators; a bad file stops here
    topic_ids = [t.id for t in app.state.service.lexicon.topics]  # next-steps panel; a bad file stops here
    app.state.next_steps, app.state.district_contacts = load_next_steps(settings, topic_ids, CALCULATORS)
    app.state.case_service = CaseService(app.state.store.cases, CaseIndex.for_search(app.state.service))
    app.state.help = help_service(
        settings, app.state.store, app.state.case_service.index
    )  # a bad holidays file stops here
    app.state.querylog = None
    app.state.monitor = ()
    if settings.querylog_enabled:
        from search_api.monitoring.querylog import QueryLog
        from search_api.monitoring.webhooks import attach_monitoring

        app.state.querylog = QueryLog(settings)
        app.state.monitor = attach_monitoring(app.state.querylog, settings)
    static = HashedStaticFiles()
    app.state.templates = configure(site_templates(), settings, static.url)
    app.mount(docs.SWAGGER_STATIC, StaticFiles(directory=docs.SWAGGER_DIR), name="swagger")
    app.mount(STATIC_PREFIX, static, name="static")
    errors.install(app)
    app.include_router(api.router)
    # the worker's pages next: a request walks the routes in order until one matches, and /search
    # behind the sixty others spent a tenth of the page's time matching (docs/benchmarks.md, session 19)
    app.include_router(pages.router)
    app.include_router(docs.router)
    app.include_router(lawyers.api_router)
    app.include_router(auth_routes.router)
    app.include_router(lawyers.router)
    app.include_router(logs.router)
    app.include_router(review.router)
    app.include_router(gaps.router)
    app.include_router(calc.api_router)
    app.include_router(desk.api_router)  # /api/help-requests/{id:int} before the worker's /{ticket}
    app.include_router(help.api_router)
    app.include_router(desk.stats_router)
    app.include_router(desk.router)
    app.include_router(help.router)
    app.include_router(calc.router)
    return app
