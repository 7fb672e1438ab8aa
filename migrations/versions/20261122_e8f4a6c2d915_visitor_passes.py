"""visitor passes, requests, batches and gate events

Revision ID: e8f4a6c2d915
Revises: c0a1b2d3e4f5
Create Date: 2026-11-22 12:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "e8f4a6c2d915"
down_revision = "c0a1b2d3e4f5"
branch_labels = None
depends_on = None


def _fk(table, column, target):
    return sa.ForeignKeyConstraint([column], [f"{target}.id"],
                                   name=op.f(f"fk_{table}_{column}_{target}"))


def upgrade():
    op.create_table(
        "visit_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("status_token", sa.String(length=48), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("visitor_name", sa.String(length=100), nullable=False),
        sa.Column("visitor_phone", sa.String(length=20), nullable=True),
        sa.Column("plate", sa.String(length=16), nullable=True),
        sa.Column("party_size", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.Column("valid_from", sa.DateTime(), nullable=False),
        sa.Column("valid_until", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("task_row_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decline_reason", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("purged_at", sa.DateTime(), nullable=True),
        _fk("visit_request", "project_id", "project"),
        _fk("visit_request", "unit_id", "unit"),
        _fk("visit_request", "instance_id", "process_instance"),
        _fk("visit_request", "task_row_id", "human_task"),
        _fk("visit_request", "decided_by_id", "user_account"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_request")),
    )
    with op.batch_alter_table("visit_request", schema=None) as batch_op:
        batch_op.create_index("ix_visit_request_number", ["number"], unique=True)
        batch_op.create_index("ix_visit_request_status_token", ["status_token"], unique=True)
        batch_op.create_index("ix_visit_request_project_created", ["project_id", "created_at"])
        batch_op.create_index(batch_op.f("ix_visit_request_project_id"), ["project_id"])
        batch_op.create_index(batch_op.f("ix_visit_request_unit_id"), ["unit_id"])

    op.create_table(
        "visit_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("company", sa.String(length=200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.Column("valid_from", sa.DateTime(), nullable=False),
        sa.Column("valid_until", sa.DateTime(), nullable=False),
        sa.Column("multi_entry", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("task_row_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decline_reason", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk("visit_batch", "project_id", "project"),
        _fk("visit_batch", "unit_id", "unit"),
        _fk("visit_batch", "requested_by_id", "user_account"),
        _fk("visit_batch", "instance_id", "process_instance"),
        _fk("visit_batch", "task_row_id", "human_task"),
        _fk("visit_batch", "decided_by_id", "user_account"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_batch")),
    )
    with op.batch_alter_table("visit_batch", schema=None) as batch_op:
        batch_op.create_index("ix_visit_batch_number", ["number"], unique=True)
        batch_op.create_index(batch_op.f("ix_visit_batch_project_id"), ["project_id"])
        batch_op.create_index(batch_op.f("ix_visit_batch_unit_id"), ["unit_id"])
        batch_op.create_index(batch_op.f("ix_visit_batch_requested_by_id"), ["requested_by_id"])

    op.create_table(
        "visitor_pass",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("host_user_id", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("visitor_name", sa.String(length=100), nullable=False),
        sa.Column("visitor_phone", sa.String(length=20), nullable=True),
        sa.Column("plate", sa.String(length=16), nullable=True),
        sa.Column("party_size", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("valid_from", sa.DateTime(), nullable=False),
        sa.Column("valid_until", sa.DateTime(), nullable=False),
        sa.Column("max_entries", sa.Integer(), nullable=True),
        sa.Column("entries_used", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("purged_at", sa.DateTime(), nullable=True),
        _fk("visitor_pass", "project_id", "project"),
        _fk("visitor_pass", "unit_id", "unit"),
        _fk("visitor_pass", "host_user_id", "user_account"),
        _fk("visitor_pass", "request_id", "visit_request"),
        _fk("visitor_pass", "batch_id", "visit_batch"),
        _fk("visitor_pass", "revoked_by_id", "user_account"),
        _fk("visitor_pass", "created_by_id", "user_account"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visitor_pass")),
    )
    with op.batch_alter_table("visitor_pass", schema=None) as batch_op:
        batch_op.create_index("ix_visitor_pass_code", ["code"], unique=True)
        batch_op.create_index("ix_visitor_pass_host", ["host_user_id", "valid_until"])
        batch_op.create_index("ix_visitor_pass_project_from", ["project_id", "valid_from"])
        batch_op.create_index("ix_visitor_pass_valid_until", ["valid_until"])
        batch_op.create_index(batch_op.f("ix_visitor_pass_project_id"), ["project_id"])
        batch_op.create_index(batch_op.f("ix_visitor_pass_unit_id"), ["unit_id"])
        batch_op.create_index(batch_op.f("ix_visitor_pass_request_id"), ["request_id"])
        batch_op.create_index(batch_op.f("ix_visitor_pass_batch_id"), ["batch_id"])

    op.create_table(
        "visitor_gate_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("pass_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("guard_user_id", sa.Integer(), nullable=True),
        sa.Column("gate", sa.String(length=64), nullable=True),
        _fk("visitor_gate_event", "project_id", "project"),
        _fk("visitor_gate_event", "pass_id", "visitor_pass"),
        _fk("visitor_gate_event", "guard_user_id", "user_account"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visitor_gate_event")),
    )
    with op.batch_alter_table("visitor_gate_event", schema=None) as batch_op:
        batch_op.create_index("ix_visitor_gate_event_project_at", ["project_id", "at"])
        batch_op.create_index("ix_visitor_gate_event_pass", ["pass_id", "at"])
        batch_op.create_index(batch_op.f("ix_visitor_gate_event_project_id"), ["project_id"])


def downgrade():
    op.drop_table("visitor_gate_event")
    op.drop_table("visitor_pass")
    op.drop_table("visit_batch")
    op.drop_table("visit_request")
