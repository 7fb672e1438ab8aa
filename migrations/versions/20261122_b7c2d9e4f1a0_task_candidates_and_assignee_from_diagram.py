"""task candidates and assignee from the diagram

Revision ID: b7c2d9e4f1a0
Revises: 5e7a1c0d2b4f
Create Date: 2026-11-22 09:10:00

"""
import sqlalchemy as sa
from alembic import op

revision = "b7c2d9e4f1a0"
down_revision = "5e7a1c0d2b4f"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("restricted", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "task_candidate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["human_task.id"],
                                name=op.f("fk_task_candidate_task_id_human_task")),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"],
                                name=op.f("fk_task_candidate_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_candidate")),
        sa.UniqueConstraint("task_id", "user_id", name=op.f("uq_task_candidate_task_id_user_id")),
    )
    with op.batch_alter_table("task_candidate", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_candidate_task_id"), ["task_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_candidate_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("task_candidate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_candidate_user_id"))
        batch_op.drop_index(batch_op.f("ix_task_candidate_task_id"))
    op.drop_table("task_candidate")
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.drop_column("restricted")
