"""timer start schedules

Revision ID: d3a7e5b1c902
Revises: c4e1d2a9b7f3
Create Date: 2026-11-22 12:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "d3a7e5b1c902"
down_revision = "c4e1d2a9b7f3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "timer_start_schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("process_id", sa.String(length=100), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("next_due", sa.DateTime(), nullable=True),
        sa.Column("last_due", sa.DateTime(), nullable=True),
        sa.Column("started_count", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["deployment_id"], ["deployment.id"],
                                name=op.f("fk_timer_start_schedule_deployment_id_deployment")),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"],
                                name=op.f("fk_timer_start_schedule_project_id_project")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timer_start_schedule")),
    )
    with op.batch_alter_table("timer_start_schedule") as batch_op:
        batch_op.create_index("ix_timer_start_schedule_process", ["process_id", "project_id"],
                              unique=True)
        batch_op.create_index("ix_timer_start_schedule_next_due", ["next_due"])
        batch_op.create_index(batch_op.f("ix_timer_start_schedule_deployment_id"),
                              ["deployment_id"])
        batch_op.create_index(batch_op.f("ix_timer_start_schedule_project_id"), ["project_id"])


def downgrade():
    op.drop_table("timer_start_schedule")
