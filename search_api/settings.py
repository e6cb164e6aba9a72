"""All settings, read from ``LABOURKB_*`` environment variables. Each one is documented."""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest.resources import LEXICON_DIR


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LABOURKB_", extra="ignore")

    data_dir: Path = Field(
        Path("data"), description="Directory holding all state (index, app store, query log, spool)."
    )
    engine: str = Field("sqlite", description="Search engine: `sqlite` (embedded, default) or `elasticsearch`.")
    corpus_dir: Path | None = Field(
        None,
        description="Corpus directory read by `labourkb ingest` without paths and by `labourkb rebuild`"
        " (`make serve` sets `../shared/corpus`). Unset: `labourkb ingest` needs paths and `labourkb rebuild` refuses.",
    )
    lexicon_dir: Path = Field(
        LEXICON_DIR,
        description="Directory of the labour-law dictionary, thesaurus and word lists (default: the copy shipped in"
        " the package, `ingest/resources/lexicon`); the everyday questions are read from `everyday/` beside it.",
    )
    sqlite_path: Path | None = Field(None, description="SQLite index file; default `<data_dir>/index.sqlite3`.")
    database_url: str | None = Field(
        None,
        description="The app store (accounts, sessions, cases, help requests, query log, warnings): unset, SQLite"
        " files in the data directory; `postgresql://user:password@host:port/database`, one PostgreSQL database"
        " shared by every app server (see docs/deploy.md).",
    )
    # Elasticsearch
    es_url: str = Field("http://127.0.0.1:9250", description="Elasticsearch URL (one node or a comma-separated list).")
    es_api_key: str | None = Field(
        None, description="Elasticsearch API key (base64 `id:key`), if the cluster needs one."
    )
    es_username: str | None = Field(None, description="Elasticsearch basic-auth user name.")
    es_password: str | None = Field(None, description="Elasticsearch basic-auth password.")
    es_verify_certs: bool = Field(True, description="Verify the server's TLS certificate.")
    es_ca_certs: Path | None = Field(None, description="CA bundle for the cluster's TLS certificate.")
    es_index_prefix: str = Field(
        "labourkb", description="Prefix of index and alias names, so several sites can share a cluster."
    )
    es_timeout: float = Field(10.0, description="Seconds before an Elasticsearch request times out.")
    es_max_retries: int = Field(3, description="Retries (with back-off) of a bulk batch on 429/5xx.")
    es_bulk_size: int = Field(500, description="Documents per bulk request.")
    # query log and privacy
    querylog_enabled: bool = Field(True, description="Log every search (redacted, pseudonymous).")
    retention_days: int = Field(
        180, description="Days query-log records are kept before `labourkb purge` removes them."
    )
    secret_key: str | None = Field(
        None,
        description="Secret for session cookies and visitor-id salts (the same on every app server); default: generated"
        " once into the data directory, or with LABOURKB_DATABASE_URL into the database (shared by every app server).",
    )
    cookie_secure: bool = Field(
        True, description="Send session cookies with the Secure flag (turn off only for plain-HTTP development)."
    )
    districts: str = Field(
        "市南区,市北区,李沧区,崂山区,城阳区,黄岛区,即墨区,胶州市,平度市,莱西市",
        description="Comma-separated districts a worker may pick on the site (for the union's per-district trends)"
        " and whose desks receive help requests; empty hides the choice.",
    )
    # help requests (search_api.help): 我要维权
    data_keys: str = Field(
        "",
        description="Comma-separated Fernet keys that seal workers' personal data in help requests (`labourkb help"
        " new-key` prints one); the first seals, all open, so a new key goes first to rotate. Empty: a key derived"
        " from the site secret (then keep LABOURKB_SECRET_KEY outside the data directory).",
    )
    help_callback_days: int = Field(
        2, ge=1, le=10, description="Working days within which district staff call a worker back."
    )
    help_retention_days: int = Field(
        365, ge=1, description="Days after a help request is closed before `labourkb purge` deletes its personal data."
    )
    help_per_hour: int = Field(
        5, ge=1, description="Help requests one client network (an IPv6 /64) may submit in an hour."
    )
    help_min_fill_seconds: float = Field(
        4.0, ge=0, description="A help form sent back sooner than this after it was shown is taken for a bot."
    )
    holidays_file: Path | None = Field(
        None,
        description="YAML file of public holidays and make-up working days (format: search_api/help/calendar.py) for"
        " years the shipped schedule does not know yet, or local changes; checked at start-up.",
    )
    # calculators (search_api.calc)
    local_wages_file: Path | None = Field(
        None,
        description="YAML file of each district's average monthly wage and the year it is for (format:"
        " search_api/calc/local_wages.py, example: docs/local-wages.example.yaml); checked at start-up."
        " Unset: the calculator forms ask the worker to type the figure.",
    )
    # the next-steps panel (search_api.search.steps_config)
    next_steps_file: Path | None = Field(
        None,
        description="YAML file of the next steps per topic: deadlines with their articles, where to go, evidence,"
        " calculators (format: the default, `nextsteps.yaml` in the lexicon directory); checked at start-up.",
    )
    district_contacts_file: Path | None = Field(
        None,
        description="YAML file of each district's own addresses and phone numbers for the next-steps panel (format:"
        " search_api/search/steps_config.py, example: docs/district-contacts.example.yaml); checked at start-up."
        " Unset: the panel shows only the national hotlines.",
    )
    # early warnings and webhooks
    warning_min_visitors: int = Field(
        3, ge=2, description="K: distinct visitors asking about one employer (with a distress topic) before a warning."
    )
    warning_window_days: int = Field(7, ge=1, description="W: days within which the K visitors must ask.")
    spike_min_count: int = Field(5, ge=1, description="Fewest visitors in a week for a district topic spike.")
    webhook_urls: str = Field("", description="Comma-separated URLs that receive warnings as signed JSON.")
    webhook_secret: str = Field("", description="HMAC-SHA256 key for the X-Labourkb-Signature header of webhooks.")
    webhook_timeout: float = Field(5.0, description="Seconds before one webhook attempt times out.")
    webhook_max_attempts: int = Field(6, ge=1, description="Attempts per webhook delivery before giving up.")
    # login throttling (search_api.accounts.throttle): a login flood must not stall the site,
    # and no one can lock an account for everyone
    login_rate_per_address: float = Field(
        6.0, gt=0, description="Login attempts a minute one client address (an IPv6 /64) may make, after its burst."
    )
    login_burst_per_address: int = Field(
        10, ge=1, description="Login attempts one client address may make at once before the per-minute rate applies."
    )
    login_rate_total: float = Field(
        1.0,
        gt=0,
        description="Login attempts a second all clients together may make (each costs ~0.3 s of CPU); more get 429.",
    )
    login_burst_total: int = Field(10, ge=1, description="Login attempts all clients together may make at once.")
    login_hash_threads: int = Field(
        1, ge=1, le=8, description="Threads that check passwords (argon2), off the event loop; the rest queue."
    )
    # search
    page_size: int = Field(10, description="Results per page on the site.")
    max_query_chars: int = Field(200, description="Queries are cut to this many characters before analysis.")
    warm_cache: bool = Field(
        True, description="At start-up, warm the engine's term caches with the lexicon's words (in the background)."
    )
    semantic: bool = Field(True, description="Fuse a semantic retriever (an embedding model) with the lexical ranking.")
    semantic_weight: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Weight of the semantic score in the fused ranking (the lexical one has the rest); 0.5 was"
        " best over the 413 questions of the development sets (docs/benchmarks.md, 2026-11-30).",
    )
    model_dir: Path = Field(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "labourkb" / "bge-small-zh-v1.5-q",
        description="Where `labourkb model fetch` puts the embedding model (checked by SHA-256 at start-up).",
    )
    threads: int = Field(
        16,
        ge=1,
        description="Threads per process answering requests (each holds an index connection and its page cache).",
    )
    search_slots: int = Field(
        2,
        ge=1,
        description="Searches one process runs at once; the others wait their turn in arrival order. A"
        " search is CPU work under one interpreter lock, so more at once adds no throughput, only memory"
        " and longer waits for some; measured alone at 2 vs 16 it changed neither throughput nor p99 within"
        " noise (the tail under load was the query log's commits; docs/benchmarks.md).",
    )
    result_cache_mb: float = Field(
        8.0,
        ge=0,
        description="Memory per process for the answers of questions asked again (compressed, ~3 KB each: 8 MB"
        " holds ~2,800, the result page and the API kept apart), kept until the index changes"
        " (search/result_cache.py); 0 turns it off. Every search is still logged.",
    )
    workers: int = Field(
        0,
        ge=0,
        description="Worker processes of `labourkb serve` (0: one per CPU); each loads the model and warms its caches"
        " before it listens. `--workers` overrides it.",
    )
    # client address and the server's own access log (who asked is never logged)
    trusted_proxies: str = Field(
        "",
        description="Comma-separated IP addresses or CIDR networks of your reverse proxies. Only a request whose peer"
        " is one of them has its X-Forwarded-For read (the client is the right-most address there that is not a"
        " trusted proxy) and its X-Forwarded-Proto (http or https, the last value). Empty (default): both headers"
        " are ignored; the peer address is the client and the connection's scheme is the scheme.",
    )
    access_log: bool = Field(
        True,
        description="`labourkb serve` prints one line per request to stderr: method, route (the path template,"
        " without query string or path values), status and milliseconds — never the client address or the query."
        " Off: no access log.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_proxies(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                ipaddress.ip_network(part.strip(), strict=False)  # ValueError names the bad entry
        return value

    @property
    def district_list(self) -> list[str]:
        return [d.strip() for d in self.districts.split(",") if d.strip()]

    @property
    def webhook_url_list(self) -> list[str]:
        """``webhook_urls`` split on commas, blanks dropped."""
        return [u.strip() for u in self.webhook_urls.split(",") if u.strip()]

    @property
    def vectors_path(self) -> Path:
        """Cached document vectors, keyed by the embedded text (an unchanged corpus embeds nothing)."""
        return self.data_dir / "vectors.sqlite3"

    @property
    def index_path(self) -> Path:
        return self.sqlite_path or (self.data_dir / "index.sqlite3")

    @property
    def store_path(self) -> Path:
        """The app's own store: accounts, API tokens, lawyers' cases."""
        return self.data_dir / "app.sqlite3"

    @property
    def querylog_path(self) -> Path:
        """The query log, with the warnings raised from it and their webhook deliveries."""
        return self.data_dir / "querylog.sqlite3"


@lru_cache
def get_settings() -> Settings:
    return Settings()
