"""instance state token, subscription flag, timer index with id

Revision ID: a9d4e2c7b813
Revises: f1a7c3e9d2b4
Create Date: 2026-11-22 12:00:00

``state_token`` names each saved state (a random hex string rewritten with every save), so a
process may keep the workflow it saved last in memory and skip deserializing it as long as the
row still carries that token. ``subscribed`` says whether the instance has message or signal
subscription rows, so saving an instance that waits on none never queries for them. The timer
index gains ``id`` so the scheduler's cursor (due moment, then id) is one index range scan.
"""
import sqlalchemy as sa
from alembic import op

revision = "a9d4e2c7b813"
down_revision = "f1a7c3e9d2b4"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("process_instance") as batch:
        batch.add_column(sa.Column("state_token", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("subscribed", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    op.execute(
        "UPDATE process_instance SET subscribed = true WHERE id IN "
        "(SELECT instance_id FROM message_subscription)"
    )
    op.drop_index("ix_process_instance_next_timer_due", table_name="process_instance")
    op.create_index("ix_process_instance_next_timer_due", "process_instance",
                    ["next_timer_due", "id"], unique=False)


def downgrade():
    op.drop_index("ix_process_instance_next_timer_due", table_name="process_instance")
    op.create_index("ix_process_instance_next_timer_due", "process_instance",
                    ["next_timer_due"], unique=False)
    with op.batch_alter_table("process_instance") as batch:
        batch.drop_column("subscribed")
        batch.drop_column("state_token")
