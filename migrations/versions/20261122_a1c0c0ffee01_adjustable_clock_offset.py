"""adjustable clock offset

Revision ID: a1c0c0ffee01
Revises: 3da1026e9ec2
Create Date: 2026-11-22 09:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "a1c0c0ffee01"
down_revision = "3da1026e9ec2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "clock_offset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("offset_seconds", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clock_offset")),
    )


def downgrade():
    op.drop_table("clock_offset")
