"""message subscriptions and incidents

Revision ID: e8f4b2c6a913
Revises: d3a7e5b1c902
Create Date: 2026-11-22 13:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "e8f4b2c6a913"
down_revision = "d3a7e5b1c902"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "message_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("correlation_key", sa.String(length=64), nullable=False),
        sa.Column("correlation", sa.JSON(), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("element_id", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"],
                                name=op.f("fk_message_subscription_instance_id_process_instance")),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"],
                                name=op.f("fk_message_subscription_project_id_project")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_subscription")),
    )
    with op.batch_alter_table("message_subscription") as batch_op:
        batch_op.create_index("ix_message_subscription_lookup",
                              ["kind", "name", "correlation_key"])
        batch_op.create_index("ix_message_subscription_signal", ["kind", "name", "project_id"])
        batch_op.create_index(batch_op.f("ix_message_subscription_instance_id"), ["instance_id"])
        batch_op.create_index(batch_op.f("ix_message_subscription_project_id"), ["project_id"])

    op.create_table(
        "incident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=True),
        sa.Column("element_id", sa.String(length=100), nullable=True),
        sa.Column("element_name", sa.String(length=200), nullable=True),
        sa.Column("error_type", sa.String(length=100), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("traceback", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"],
                                name=op.f("fk_incident_instance_id_process_instance")),
        sa.ForeignKeyConstraint(["resolved_by_id"], ["user_account.id"],
                                name=op.f("fk_incident_resolved_by_id_user_account")),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"],
                                name=op.f("fk_incident_project_id_project")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
    )
    with op.batch_alter_table("incident") as batch_op:
        batch_op.create_index("ix_incident_status_created", ["status", "created_at"])
        batch_op.create_index("ix_incident_instance", ["instance_id", "status"])
        batch_op.create_index(batch_op.f("ix_incident_project_id"), ["project_id"])


def downgrade():
    op.drop_table("incident")
    op.drop_table("message_subscription")
