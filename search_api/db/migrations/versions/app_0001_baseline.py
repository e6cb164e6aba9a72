"""app store: baseline (accounts, sessions, tokens, cases, help requests, employer list,
search additions, gap actions, shared site secret)

Revision ID: app_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from search_api.db.baseline import create_index, create_table, sqlite_table_sql

revision = "app_0001"
down_revision = None
branch_labels = ("app",)
depends_on = None

TEXT = sa.Text()
ROLES = "role IN ('lawyer', 'reviewer', 'admin', 'staff')"
CASE_STATES = "state IN ('draft', 'submitted', 'returned', 'published', 'withdrawn')"


def _users_table(name: str) -> None:
    is_sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        name,
        sa.Column("id", sa.Integer, primary_key=True),
        # case-insensitive user names: NOCASE on SQLite, a unique index on lower() on PostgreSQL
        sa.Column("username", sa.Text().with_variant(sa.Text(collation="NOCASE"), "sqlite"), nullable=False),
        sa.Column("password_hash", TEXT, nullable=False),
        sa.Column("role", TEXT, nullable=False),
        sa.Column("display_name", TEXT, nullable=False, server_default=""),
        sa.Column("active", sa.Integer, nullable=False, server_default="1"),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),  # unused (old stores)
        sa.Column("locked_until", sa.Float, nullable=False, server_default="0"),  # unused (old stores)
        sa.Column("created_at", TEXT, nullable=False),
        sa.CheckConstraint(ROLES),
        *([sa.UniqueConstraint("username")] if is_sqlite else []),
    )


def _allow_staff_on_old_sqlite() -> None:
    """Stores made before the ``staff`` role have a CHECK that refuses it. SQLite cannot alter a
    CHECK, and rebuilding ``users`` inside this transaction would cascade into sessions and
    tokens, so the table's definition is edited in place: SQLite's documented procedure for a
    constraint that only becomes looser (every stored row already satisfies the new one)."""
    old = sqlite_table_sql("users")
    if not old or "'staff'" in old:
        return
    new = old.replace("'admin')", "'admin', 'staff')")
    assert new != old, "unexpected users table definition"
    bind = op.get_bind()
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar()
    bind.exec_driver_sql("PRAGMA writable_schema=ON")
    try:
        bind.exec_driver_sql("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'users'", (new,))
        bind.exec_driver_sql(f"PRAGMA schema_version={int(version) + 1}")
    finally:
        bind.exec_driver_sql("PRAGMA writable_schema=OFF")


def upgrade() -> None:
    is_pg = op.get_bind().dialect.name == "postgresql"
    if sa.inspect(op.get_bind()).has_table("users"):
        _allow_staff_on_old_sqlite()
    else:
        _users_table("users")
    if is_pg:
        create_index("users_username_lower", "users", [sa.text("lower(username)")], unique=True)
    create_table(
        "user_districts",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("district", TEXT, primary_key=True),
    )
    create_table(
        "sessions",
        sa.Column("token_hash", TEXT, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("csrf_token", TEXT, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    create_table(
        "form_stash",
        sa.Column("token_hash", TEXT, primary_key=True),
        sa.Column("user_id", sa.Integer),
        sa.Column("path", TEXT, nullable=False),
        sa.Column("data", TEXT, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_hash", TEXT, nullable=False, unique=True),
        sa.Column("name", TEXT, nullable=False, server_default=""),
        sa.Column("created_at", TEXT, nullable=False),
        sa.Column("last_used_at", TEXT),
        sa.Column("revoked", sa.Integer, nullable=False, server_default="0"),
    )
    create_table(
        "scoped_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", TEXT, nullable=False),
        sa.Column("token_hash", TEXT, nullable=False, unique=True),
        sa.Column("scopes", TEXT, nullable=False),
        sa.Column("created_at", TEXT, nullable=False),
        sa.Column("last_used_at", TEXT),
        sa.Column("revoked", sa.Integer, nullable=False, server_default="0"),
    )
    create_table(
        "login_failures",
        sa.Column("key", TEXT, primary_key=True),  # sha256 of (name as typed, casefolded; client network)
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failure", sa.Float, nullable=False),  # epoch seconds
        sa.Column("blocked_until", sa.Float, nullable=False, server_default="0"),
    )
    create_table(
        "cases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("author_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("state", TEXT, nullable=False),
        sa.Column("current_version", sa.Integer, nullable=False),
        sa.Column("published_version", sa.Integer),
        sa.Column("created_at", TEXT, nullable=False),
        sa.Column("updated_at", TEXT, nullable=False),
        sa.Column("published_at", TEXT),
        sa.CheckConstraint(CASE_STATES),
    )
    create_index("cases_state", "cases", ["state"])
    create_index("cases_author", "cases", ["author_id"])
    create_table(
        "case_versions",
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("number", sa.Integer, primary_key=True),
        sa.Column("author_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", TEXT, nullable=False),
        sa.Column("data", TEXT, nullable=False),
        sa.Column("citations", TEXT, nullable=False, server_default="[]"),
    )
    create_table(
        "case_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("action", TEXT, nullable=False),
        sa.Column("comment", TEXT, nullable=False, server_default=""),
        sa.Column("created_at", TEXT, nullable=False),
    )
    _help_tables()
    create_table(
        "employer_list_versions",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("entries", TEXT, nullable=False),  # JSON [[name, [alias, …]], …]
        sa.Column("excluded", TEXT, nullable=False),  # JSON [word, …]: never an employer
        sa.Column("changed_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("changed_by_name", TEXT, nullable=False),  # kept when the account is gone
        sa.Column("changed_at", TEXT, nullable=False),
        sa.Column("summary", TEXT, nullable=False),
    )
    create_table(
        "search_additions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", TEXT, nullable=False),  # 'question' | 'thesaurus'
        sa.Column("article_id", TEXT, nullable=False, server_default=""),
        sa.Column("text", TEXT, nullable=False),
        sa.Column("gap", TEXT, nullable=False, server_default=""),  # the gap it closes
        sa.Column("proposed_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("proposed_by_name", TEXT, nullable=False),
        sa.Column("proposed_at", TEXT, nullable=False),
        sa.Column("state", TEXT, nullable=False, server_default="pending"),  # pending | approved | rejected
        sa.Column("reviewed_by_name", TEXT, nullable=False, server_default=""),
        sa.Column("reviewed_at", TEXT, nullable=False, server_default=""),
        sa.Column("version", sa.Integer, unique=True),  # set on approval: 1, 2, …
    )
    create_table(
        "gap_noise",
        sa.Column("concept_key", TEXT, primary_key=True),
        sa.Column("gap", TEXT, nullable=False),
        sa.Column("question", TEXT, nullable=False),
        sa.Column("marked_by_name", TEXT, nullable=False),
        sa.Column("marked_at", TEXT, nullable=False),
    )
    create_table(
        "gap_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("gap", TEXT, nullable=False),
        sa.Column("question", TEXT, nullable=False),
        sa.Column("note", TEXT, nullable=False, server_default=""),
        sa.Column("requested_by_name", TEXT, nullable=False),
        sa.Column("requested_at", TEXT, nullable=False),
        sa.Column("state", TEXT, nullable=False, server_default="open"),  # open | done
    )
    # values every app server must share, e.g. the site secret when none is configured
    create_table(
        "site_values",
        sa.Column("name", TEXT, primary_key=True),
        sa.Column("value", TEXT, nullable=False),
        sa.Column("created_at", TEXT, nullable=False),
    )


def _help_tables() -> None:
    create_table(
        "help_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("reference", TEXT, nullable=False, unique=True),  # 崂山-2026-000123
        sa.Column("ticket_hash", TEXT, unique=True),  # the status link's digest; NULL once purged
        sa.Column("district", TEXT, nullable=False),
        sa.Column("topic", TEXT, nullable=False),
        sa.Column("is_dispute", TEXT, nullable=False),
        sa.Column("call_time", TEXT, nullable=False),
        sa.Column("publish_consent", sa.Integer, nullable=False, server_default="0"),
        sa.Column("state", TEXT, nullable=False),
        sa.Column("outcome", TEXT, nullable=False, server_default=""),
        sa.Column("sealed", TEXT),  # name, phone, story … (Fernet); NULL once purged
        sa.Column("created_at", TEXT, nullable=False),
        sa.Column("contact_due", TEXT, nullable=False),  # the day (Asia/Shanghai) the worker is called by
        sa.Column("first_contact_at", TEXT),
        sa.Column("closed_at", TEXT),
        sa.Column("updated_at", TEXT, nullable=False),
        sa.Column("lawyer_id", sa.Integer, sa.ForeignKey("users.id")),
        sa.Column("purged_at", TEXT),
    )
    create_index("help_requests_queue", "help_requests", ["district", "state", "created_at"])
    create_table(
        "help_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("request_id", sa.Integer, sa.ForeignKey("help_requests.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", TEXT, nullable=False),
        sa.Column("actor_id", sa.Integer, sa.ForeignKey("users.id")),  # NULL: the worker
        sa.Column("action", TEXT, nullable=False),
        sa.Column("from_state", TEXT),
        sa.Column("to_state", TEXT),
        sa.Column("outcome", TEXT, nullable=False, server_default=""),
        sa.Column("sealed_note", TEXT),  # a note or added information (Fernet); NULL once purged
    )
    create_index("help_events_request", "help_events", ["request_id", "id"])
    create_table(
        "help_answers",
        sa.Column(
            "request_id",
            sa.Integer,
            sa.ForeignKey("help_requests.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("lawyer_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("sealed_body", TEXT),  # the lawyer's Markdown (Fernet); NULL once purged
        sa.Column("citations", TEXT, nullable=False, server_default="[]"),
        sa.Column("created_at", TEXT, nullable=False),
        sa.Column("updated_at", TEXT, nullable=False),
    )
    # who saw a worker's phone number: kept after the request is purged (no personal data in it)
    create_table(
        "help_audit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", TEXT, nullable=False),
        sa.Column("user_id", sa.Integer),
        sa.Column("username", TEXT, nullable=False),
        sa.Column("reference", TEXT, nullable=False),
        sa.Column("action", TEXT, nullable=False),
    )
    create_table(
        "help_sequences",
        sa.Column("prefix", TEXT, primary_key=True),
        sa.Column("last", sa.Integer, nullable=False),
    )
    # submissions per client network (a keyed digest, never the address), for the hourly limit
    create_table(
        "help_submissions",
        sa.Column("network", TEXT, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    create_index("help_submissions_network", "help_submissions", ["network", "at"])
    create_table(
        "qa_documents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("request_id", sa.Integer, sa.ForeignKey("help_requests.id", ondelete="SET NULL")),
        sa.Column("title", TEXT, nullable=False),
        sa.Column("question", TEXT, nullable=False),
        sa.Column("answer", TEXT, nullable=False),
        sa.Column("citations", TEXT, nullable=False, server_default="[]"),
        sa.Column("topic", TEXT, nullable=False, server_default=""),
        sa.Column("state", TEXT, nullable=False),  # published | withdrawn
        sa.Column("reviewer_id", sa.Integer, sa.ForeignKey("users.id")),
        sa.Column("published_at", TEXT, nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("the baseline is not undone: restore a backup instead")
