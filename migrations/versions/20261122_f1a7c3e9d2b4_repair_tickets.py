"""repair tickets and technician teams

Revision ID: f1a7c3e9d2b4
Revises: b1f2e3d4c5a6
Create Date: 2026-11-22 14:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "f1a7c3e9d2b4"
down_revision = "b1f2e3d4c5a6"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('repair_team',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_repair_team_project_id_project')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_repair_team')),
    sa.UniqueConstraint('project_id', 'code', name=op.f('uq_repair_team_project_id_code'))
    )
    op.create_index(op.f('ix_repair_team_project_id'), 'repair_team', ['project_id'], unique=False)
    op.create_table('repair_team_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['repair_team.id'], name=op.f('fk_repair_team_member_team_id_repair_team')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_repair_team_member_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_repair_team_member')),
    sa.UniqueConstraint('team_id', 'user_id', name=op.f('uq_repair_team_member_team_id_user_id'))
    )
    op.create_index(op.f('ix_repair_team_member_team_id'), 'repair_team_member', ['team_id'], unique=False)
    op.create_index(op.f('ix_repair_team_member_user_id'), 'repair_team_member', ['user_id'], unique=False)
    op.create_table('repair_ticket',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('requester_id', sa.Integer(), nullable=False),
    sa.Column('registered_by_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('area', sa.String(length=16), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('location', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('urgency', sa.String(length=16), nullable=False),
    sa.Column('preferred_time', sa.String(length=40), nullable=True),
    sa.Column('photos', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('team', sa.String(length=32), nullable=True),
    sa.Column('dispatch_mode', sa.String(length=16), nullable=True),
    sa.Column('technician_id', sa.Integer(), nullable=True),
    sa.Column('respond_by', sa.DateTime(), nullable=True),
    sa.Column('finish_by', sa.DateTime(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(), nullable=False),
    sa.Column('accepted_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('returns', sa.Integer(), nullable=False),
    sa.Column('fee_fen', sa.Integer(), nullable=False),
    sa.Column('fee_confirmed', sa.Boolean(), nullable=True),
    sa.Column('materials_fen', sa.Integer(), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('rating_comment', sa.Text(), nullable=True),
    sa.Column('not_rated', sa.Boolean(), nullable=False),
    sa.Column('revisit_result', sa.String(length=16), nullable=True),
    sa.Column('late_response', sa.Boolean(), nullable=False),
    sa.Column('late_completion', sa.Boolean(), nullable=False),
    sa.Column('escalation_level', sa.Integer(), nullable=False),
    sa.Column('escalations', sa.JSON(), nullable=False),
    sa.Column('urge_count', sa.Integer(), nullable=False),
    sa.Column('last_urged_at', sa.DateTime(), nullable=True),
    sa.Column('cancel_reason', sa.String(length=500), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_repair_ticket_instance_id_process_instance')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_repair_ticket_project_id_project')),
    sa.ForeignKeyConstraint(['registered_by_id'], ['user_account.id'], name=op.f('fk_repair_ticket_registered_by_id_user_account')),
    sa.ForeignKeyConstraint(['requester_id'], ['user_account.id'], name=op.f('fk_repair_ticket_requester_id_user_account')),
    sa.ForeignKeyConstraint(['technician_id'], ['user_account.id'], name=op.f('fk_repair_ticket_technician_id_user_account')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_repair_ticket_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_repair_ticket')),
    sa.UniqueConstraint('instance_id', name=op.f('uq_repair_ticket_instance_id')),
    sa.UniqueConstraint('project_id', 'number', name=op.f('uq_repair_ticket_project_id_number'))
    )
    op.create_index(op.f('ix_repair_ticket_project_id'), 'repair_ticket', ['project_id'], unique=False)
    op.create_index('ix_repair_ticket_project_status', 'repair_ticket', ['project_id', 'status', 'submitted_at'], unique=False)
    op.create_index('ix_repair_ticket_requester', 'repair_ticket', ['requester_id', 'submitted_at'], unique=False)
    op.create_index('ix_repair_ticket_team', 'repair_ticket', ['project_id', 'team', 'status'], unique=False)
    op.create_index('ix_repair_ticket_technician', 'repair_ticket', ['technician_id', 'status'], unique=False)
    op.create_index(op.f('ix_repair_ticket_unit_id'), 'repair_ticket', ['unit_id'], unique=False)


def downgrade():
    op.drop_table("repair_ticket")
    op.drop_table("repair_team_member")
    op.drop_table("repair_team")
