"""query log: baseline (searches, clicks, signals, warnings, webhook and weekly deliveries)

Revision ID: querylog_0001
Revises:
"""

import sqlalchemy as sa

from search_api.db.baseline import add_missing_columns, create_index, create_table

revision = "querylog_0001"
down_revision = None
branch_labels = ("querylog",)
depends_on = None

TEXT = sa.Text()


def upgrade() -> None:
    create_table(
        "queries",
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("query_id", TEXT, nullable=False, unique=True),
        sa.Column("client_id", TEXT, nullable=False),
        sa.Column("timestamp", TEXT, nullable=False),
        sa.Column("user_query", TEXT, nullable=False),
        sa.Column("tokens", TEXT, nullable=False),
        sa.Column("filters", TEXT, nullable=False),
        sa.Column("engine", TEXT, nullable=False),
        sa.Column("total", sa.Integer),
        sa.Column("hit_ids", TEXT, nullable=False),
        sa.Column("took_ms", sa.Float),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("source", TEXT, nullable=False),
        sa.Column("district", TEXT),
        sa.Column("topics", TEXT, nullable=False),
        sa.Column("employers", TEXT, nullable=False),
        sa.Column("network_id", TEXT),
        sa.Column("browser", TEXT),
        sqlite_autoincrement=True,
    )
    # files from before these columns (the early-warning signals) get them here
    add_missing_columns("queries", [sa.Column("network_id", TEXT), sa.Column("browser", TEXT)])
    create_index("queries_ts", "queries", ["timestamp"])
    create_index("queries_district_ts", "queries", ["district", "timestamp"])
    create_index("queries_client_ts", "queries", ["client_id", "timestamp"])
    create_table(
        "events",
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("event_id", TEXT, nullable=False, unique=True),
        sa.Column("query_id", TEXT, nullable=False),
        sa.Column("client_id", TEXT, nullable=False),
        sa.Column("timestamp", TEXT, nullable=False),
        sa.Column("action_name", TEXT, nullable=False),
        sa.Column("object_id", TEXT, nullable=False),
        sa.Column("position", sa.Integer),
        sqlite_autoincrement=True,
    )
    create_index("events_query", "events", ["query_id"])
    create_index("events_ts", "events", ["timestamp"])
    create_table(
        "query_signals",
        sa.Column("query_id", TEXT, primary_key=True),
        sa.Column("unconfident", sa.Integer, nullable=False, server_default="0"),
        sa.Column("refined", sa.Integer, nullable=False, server_default="0"),
        sa.Column("helped", sa.Integer, nullable=False, server_default="0"),
    )
    create_table(
        "warnings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", TEXT, nullable=False),
        sa.Column("subject", TEXT, nullable=False),
        sa.Column("window_start", TEXT, nullable=False),
        sa.Column("window_end", TEXT, nullable=False),
        sa.Column("topics", TEXT, nullable=False),
        sa.Column("visitors", sa.Integer, nullable=False),
        sa.Column("district", TEXT),
        sa.Column("created_at", TEXT, nullable=False),
        sa.Column("networks", sa.Integer),
        sa.Column("days", sa.Integer),
        sa.Column("browsers", sa.Integer),
        sa.UniqueConstraint("kind", "subject", "window_start"),
        sqlite_autoincrement=True,
    )
    add_missing_columns("warnings", [sa.Column(name, sa.Integer) for name in ("networks", "days", "browsers")])
    create_table(
        "webhook_deliveries",
        sa.Column("warning_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("url", TEXT, primary_key=True),
        sa.Column("state", TEXT, nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", TEXT),
        sa.Column("delivered_at", TEXT),
    )
    create_table(
        "weekly_deliveries",
        sa.Column("week", TEXT, primary_key=True),
        sa.Column("url", TEXT, primary_key=True),
        sa.Column("claimed_at", TEXT, nullable=False),
        sa.Column("state", TEXT, nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", TEXT),
        sa.Column("delivered_at", TEXT),
    )


def downgrade() -> None:
    raise NotImplementedError("the baseline is not undone: restore a backup instead")
