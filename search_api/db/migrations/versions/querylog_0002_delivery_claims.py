"""query log: delivery claims (who is sending a webhook or weekly delivery, since when)

A delivery is sent by the app server that claims it (``state = 'sending'``, ``claimed_at``,
``claimed_by``); a claim older than the sender's timeout is taken over by another server, so a
server killed mid-send does not lose the delivery.

Revision ID: querylog_0002
Revises: querylog_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "querylog_0002"
down_revision = "querylog_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("webhook_deliveries", sa.Column("claimed_at", sa.Text()))
    op.add_column("webhook_deliveries", sa.Column("claimed_by", sa.Text()))
    op.add_column("weekly_deliveries", sa.Column("claimed_by", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("weekly_deliveries") as batch:
        batch.drop_column("claimed_by")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("claimed_by")
        batch.drop_column("claimed_at")
