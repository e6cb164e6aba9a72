"""The ``labourkb`` command: a thin layer over the library functions."""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path

import click

from search_api import db
from search_api.db.cli import store_group
from search_api.engines.base import IndexOutdated
from search_api.engines.es_cli import es
from search_api.errors import AppError
from search_api.help.cli import help_group
from search_api.monitoring.report_cli import report_group
from search_api.settings import Settings, get_settings


def _settings() -> Settings:
    return get_settings()


def _engine(settings: Settings):
    from search_api.engines import get_engine

    return get_engine(settings)


def _embed(settings: Settings, engine, quiet: bool = False) -> None:
    """Fill the vector cache for every indexed document, so a starting server embeds nothing."""
    if not settings.semantic:
        return
    from search_api.search.layer import fill_vectors

    if not quiet:
        click.echo(
            "semantic retriever: embedding what the vector cache lacks (the first time, a few minutes)", err=True
        )
    status = fill_vectors(settings, engine)
    if not quiet:
        click.echo(f"semantic retriever: {status}", err=True)


NO_CORPUS = "没有指定要导入的语料：请给出路径（labourkb ingest 路径…），或设置环境变量 LABOURKB_CORPUS_DIR"


def _corpus_dir(settings: Settings) -> Path:
    """LABOURKB_CORPUS_DIR, which must be set and exist (``ingest`` without paths, ``rebuild``)."""
    if settings.corpus_dir is None:
        raise click.ClickException(NO_CORPUS)
    if not settings.corpus_dir.exists():
        raise click.ClickException(f"找不到语料目录 {settings.corpus_dir}（来自 LABOURKB_CORPUS_DIR）")
    return settings.corpus_dir


def _echo_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


class _Commands(click.Group):
    """The command group: the app's errors (``search_api.errors``) become one clear message, here."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AppError as e:
            raise click.ClickException(f"{e.message}: {e.detail}" if e.detail else e.message) from e


@click.group(cls=_Commands)
def cli() -> None:
    """labourkb — a searchable knowledge base of Chinese labour law."""


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Re-index files even when unchanged.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def ingest(paths: tuple[Path, ...], force: bool, as_json: bool) -> None:
    """Ingest corpus files or directories (default: LABOURKB_CORPUS_DIR; one of the two is needed).

    Example: labourkb ingest ../shared/corpus
    """
    from ingest.pipeline import ingest as run_ingest
    from search_api.search.additions import AdditionStore, approved_questions

    settings = _settings()
    questions = approved_questions(AdditionStore(db.app_database(settings)))  # reviewed additions on top of the files
    targets = list(paths) or [_corpus_dir(settings)]
    for p in targets:
        if not p.exists():
            raise click.ClickException(f"找不到要导入的文件或目录：{p}")
    engine = _engine(settings)
    with click.progressbar(length=0, label="ingesting", file=sys.stderr, show_pos=True) as bar:

        def progress(n: int) -> None:
            bar.length = (bar.length or 0) + n
            bar.update(n)

        try:
            report = run_ingest(
                targets, engine, settings.lexicon_dir, progress=progress, force=force, extra_questions=questions
            )
        except IndexOutdated:
            from search_api.search.rebuild import rebuild_index

            click.echo("index built by an older version: rebuilding it (corpus + lawyers' cases)", err=True)
            _corpus_dir(settings)  # the rebuild reads the whole corpus, not just the paths given
            rebuild_index(settings, engine)
            report = run_ingest(
                targets, engine, settings.lexicon_dir, progress=progress, force=force, extra_questions=questions
            )
    _embed(settings, engine, quiet=as_json)
    if as_json:
        _echo_json(report.as_dict())
        return
    click.echo(
        f"{report.files} files ({report.unchanged_files} unchanged), {report.documents} documents indexed, "
        f"{report.deleted} removed, {report.seconds:.1f}s"
    )
    for kind, n in sorted(report.by_kind.items()):
        click.echo(f"  {kind:8} {n}")
    for path, reason in report.skipped:
        click.echo(f"  skipped {path}: {reason}", err=True)
    for doc_id, reason in report.failed:
        click.echo(f"  failed {doc_id}: {reason}", err=True)


@cli.command()
@click.option("--json", "as_json", is_flag=True)
def rebuild(as_json: bool) -> None:
    """Rebuild the whole index atomically from the corpus (LABOURKB_CORPUS_DIR) plus the app store
    (lawyers' cases).

    Example: labourkb rebuild
    """
    from search_api.search.rebuild import rebuild_index

    settings = _settings()
    _corpus_dir(settings)
    engine = _engine(settings)
    report = rebuild_index(settings, engine)
    _embed(settings, engine, quiet=as_json)
    if as_json:
        _echo_json(report)
    else:
        click.echo(
            f"rebuilt: {report['indexed']} documents, {len(report['skipped'])} files skipped, "
            f"{len(report['failed'])} failed"
        )


@cli.command()
@click.argument("query")
@click.option("--json", "as_json", is_flag=True, help="Print the same JSON as GET /api/search.")
@click.option("--size", default=10, show_default=True)
@click.option("--page", default=1, show_default=True)
@click.option("--kind", multiple=True, help="Filter by kind (article, law, case, policy, news).")
def search(query: str, as_json: bool, size: int, page: int, kind: tuple[str, ...]) -> None:
    """Search from the command line.

    Example: labourkb search "被炒鱿鱼了有没有赔偿" --json --size 5
    """
    from search_api.search.additions import AdditionStore
    from search_api.search.live_additions import LiveAdditions
    from search_api.search.present import filters_from
    from search_api.search.service import SearchService

    if not query.strip():
        raise click.ClickException("请输入要搜索的问题或关键词")
    settings = _settings()
    service = SearchService(settings, _engine(settings))
    LiveAdditions(AdditionStore(db.app_database(settings)), service).sync()  # reviewed additions, as the site has them
    service.semantic.start(background=False)  # from the vector cache ingest filled; lexical without the model
    result = service.search(query, size=size, page=page, filters=filters_from(list(kind), None, None))
    if as_json:
        _echo_json(result.as_dict())
        return
    click.echo(f"{result.total} results")
    for i, h in enumerate(result.hits, 1 + (page - 1) * size):
        click.echo(f"{i:3}. [{h['kind_label']}] {h['display_title']}  ({h['id']})")


@cli.command()
@click.argument("doc_id")
@click.option("--json", "as_json", is_flag=True, help="Print the same JSON as GET /api/documents/{id}.")
def show(doc_id: str, as_json: bool) -> None:
    """Show one document.

    Example: labourkb show labor-contract-law.47 --json
    """
    settings = _settings()
    doc = _engine(settings).get(doc_id)
    if doc is None:
        raise click.ClickException(f"no document {doc_id!r}")
    data = doc.as_dict()
    data.pop("tokens", None)
    if as_json:
        _echo_json(data)
    else:
        click.echo(f"{doc.title}\n\n{doc.text}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(0),
    default=None,
    help="Worker processes (0: one per CPU; default LABOURKB_WORKERS, else 0). Each loads the model and its caches.",
)
def serve(host: str, port: int, workers: int | None) -> None:
    """Serve the site and API in the foreground.

    Example: labourkb serve --port 8000 --workers 2
    """
    from search_api.web.server import default_workers, serve_one, serve_workers

    settings = _settings()
    workers = (settings.workers if workers is None else workers) or default_workers()
    try:
        if workers == 1:
            serve_one(settings, host, port)
        else:
            serve_workers(settings, host, port, workers)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"端口 {port} 已被占用（address in use）: 换一个 --port，或先停止占用它的程序"
            ) from e
        raise


@cli.group()
def user() -> None:
    """Accounts for lawyers, reviewers and admins."""


@user.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(["lawyer", "reviewer", "admin", "staff"]), required=True)
@click.option(
    "--district",
    "districts",
    multiple=True,
    help="Staff: a district whose help requests they answer (repeat for several; required). Lawyer: a district"
    " whose rota they are on.",
)
@click.password_option(
    help="Prompted for when not given (LABOURKB_NEW_PASSWORD also works).", envvar="LABOURKB_NEW_PASSWORD"
)
def user_create(username: str, role: str, districts: tuple[str, ...], password: str) -> None:
    """Create an account.

    Example: labourkb user create wang --role lawyer; labourkb user create li --role staff --district 崂山区
    """
    from search_api.accounts.users import Users

    settings = _settings()
    unknown = [d for d in districts if d not in settings.district_list]
    if unknown:
        raise click.ClickException(
            f"区 {'、'.join(unknown)} 不在 LABOURKB_DISTRICTS 里（{'、'.join(settings.district_list)}）"
        )
    Users(db.app_database(settings)).create(username, password, role, districts=districts)
    click.echo(f"created {role} {username}" + (f" ({', '.join(districts)})" if districts else ""))


@cli.command()
@click.argument("dest", type=click.Path(path_type=Path))
def backup(dest: Path) -> None:
    """Write a consistent copy of the app store (accounts, cases, versions) while the site runs.

    Example: labourkb backup /backups/labourkb-2026-11-22.sqlite3
    """
    from search_api.accounts.store import BackupRefused, Store

    try:
        Store(db.app_database(_settings())).backup(dest)
    except BackupRefused as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"backup written to {dest}")


@cli.group()
def model() -> None:
    """The embedding model of the semantic retriever (from a Maven Central package, pinned by SHA-256)."""


@model.command("fetch")
@click.option(
    "--jar", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="A copy of the jar (offline)."
)
def model_fetch(jar: Path | None) -> None:
    """Download (or unpack a copied jar), verify and install the model into LABOURKB_MODEL_DIR.

    Example: labourkb model fetch
    """
    from search_api.search.model import ModelUnavailable, fetch_model

    settings = _settings()
    try:
        path = fetch_model(settings.model_dir, jar=jar)
    except ModelUnavailable as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"model ready in {path}")


@cli.group()
def token() -> None:
    """Read-only API tokens for monitoring systems (the query-log feed)."""


@token.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    default=["logs:read"],
    show_default=True,
    type=click.Choice(["logs:read", "help:read", "help:personal"]),
)
def token_create(name: str, scopes: tuple[str, ...]) -> None:
    """Create a token; it is printed once and only its hash is stored.

    Example: labourkb token create district-monitor --scope logs:read
    """
    from search_api.accounts.tokens import create_token

    click.echo(create_token(_settings(), name, scopes))


@cli.command()
@click.option("--days", type=int, default=None, help="Keep this many days (default LABOURKB_RETENTION_DAYS).")
def purge(days: int | None) -> None:
    """Delete query-log records older than the retention period, (under "accounts") sessions
    expired and form stashes made over a day ago, and (under "help") the personal data of help
    requests closed more than LABOURKB_HELP_RETENTION_DAYS ago.

    Example: labourkb purge --days 180
    """
    from search_api.accounts.store import Store
    from search_api.help import help_service
    from search_api.monitoring.querylog import QueryLog

    settings = _settings()
    log = QueryLog(settings)
    store = Store(db.app_database(settings))
    try:
        help = help_service(settings, store).purge(settings.help_retention_days)
        _echo_json({**log.purge(days), "accounts": store.purge(), "help": help})
    finally:
        log.close()


@cli.command("querylog-replay")
def querylog_replay() -> None:
    """Store query-log records spooled while the query-log database did not answer, and send
    those spooled during an Elasticsearch outage (the server does both by itself once they answer).

    Example: labourkb querylog-replay
    """
    from search_api.monitoring.querylog import QueryLog

    log = QueryLog(_settings())
    try:
        click.echo(f"replayed {log.replay_spool()} records")
    finally:
        log.close()


cli.add_command(es)
cli.add_command(help_group)
cli.add_command(store_group)
cli.add_command(report_group)


if __name__ == "__main__":
    cli()
