"""lost and found: items and claims

Revision ID: f5a8c3d1e7b2
Revises: e8f4a6c2d915
Create Date: 2026-11-22 14:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "f5a8c3d1e7b2"
down_revision = "e8f4a6c2d915"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "lost_found_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("photos", sa.JSON(), nullable=False),
        sa.Column("contact", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column("logged_by_staff", sa.Boolean(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("reject_reason", sa.String(length=500), nullable=True),
        sa.Column("disposal_action", sa.String(length=16), nullable=True),
        sa.Column("disposal_to", sa.String(length=200), nullable=True),
        sa.Column("disposal_note", sa.String(length=500), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"],
                                name=op.f("fk_lost_found_item_instance_id_process_instance")),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"],
                                name=op.f("fk_lost_found_item_project_id_project")),
        sa.ForeignKeyConstraint(["reporter_id"], ["user_account.id"],
                                name=op.f("fk_lost_found_item_reporter_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lost_found_item")),
        sa.UniqueConstraint("number", name=op.f("uq_lost_found_item_number")),
    )
    with op.batch_alter_table("lost_found_item") as batch_op:
        batch_op.create_index("ix_lost_found_item_list",
                              ["project_id", "status", "kind", "occurred_at"])
        batch_op.create_index("ix_lost_found_item_reporter", ["reporter_id", "created_at"])
        batch_op.create_index(batch_op.f("ix_lost_found_item_instance_id"), ["instance_id"])
        batch_op.create_index(batch_op.f("ix_lost_found_item_project_id"), ["project_id"])
    op.create_table(
        "lost_found_claim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("claimant_id", sa.Integer(), nullable=True),
        sa.Column("claimant_name", sa.String(length=100), nullable=False),
        sa.Column("claimant_phone", sa.String(length=40), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("verify_task_id", sa.Integer(), nullable=True),
        sa.Column("decision_note", sa.String(length=500), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("received_by_name", sa.String(length=100), nullable=True),
        sa.Column("receiver_id_masked", sa.String(length=32), nullable=True),
        sa.Column("handed_over_at", sa.DateTime(), nullable=True),
        sa.Column("handed_over_by_id", sa.Integer(), nullable=True),
        sa.Column("handover_note", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["lost_found_item.id"],
                                name=op.f("fk_lost_found_claim_item_id_lost_found_item")),
        sa.ForeignKeyConstraint(["claimant_id"], ["user_account.id"],
                                name=op.f("fk_lost_found_claim_claimant_id_user_account")),
        sa.ForeignKeyConstraint(["decided_by_id"], ["user_account.id"],
                                name=op.f("fk_lost_found_claim_decided_by_id_user_account")),
        sa.ForeignKeyConstraint(["handed_over_by_id"], ["user_account.id"],
                                name=op.f("fk_lost_found_claim_handed_over_by_id_user_account")),
        sa.ForeignKeyConstraint(["verify_task_id"], ["human_task.id"],
                                name=op.f("fk_lost_found_claim_verify_task_id_human_task")),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"],
                                name=op.f("fk_lost_found_claim_project_id_project")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lost_found_claim")),
    )
    with op.batch_alter_table("lost_found_claim") as batch_op:
        batch_op.create_index(batch_op.f("ix_lost_found_claim_item_id"), ["item_id"])
        batch_op.create_index(batch_op.f("ix_lost_found_claim_claimant_id"), ["claimant_id"])
        batch_op.create_index(batch_op.f("ix_lost_found_claim_verify_task_id"),
                              ["verify_task_id"])
        batch_op.create_index(batch_op.f("ix_lost_found_claim_project_id"), ["project_id"])


def downgrade():
    op.drop_table("lost_found_claim")
    op.drop_table("lost_found_item")
