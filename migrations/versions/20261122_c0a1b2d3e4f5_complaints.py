"""complaints with business calendars

Revision ID: c0a1b2d3e4f5
Revises: e8f4b2c6a913
Create Date: 2026-11-22 15:00:00

Complaints (投诉) with their event log, and per-project business calendars (working hours per
weekday, public holidays and make-up working days) their time limits are computed on.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c0a1b2d3e4f5'
down_revision = "e8f4b2c6a913"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'complaint',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(length=32), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('category', sa.String(length=32), nullable=False),
        sa.Column('severity', sa.String(length=16), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('photos', sa.JSON(), nullable=False),
        sa.Column('anonymous', sa.Boolean(), nullable=False),
        sa.Column('complainant_id', sa.Integer(), nullable=True),
        sa.Column('complainant_name', sa.String(length=100), nullable=True),
        sa.Column('complainant_phone', sa.String(length=32), nullable=True),
        sa.Column('registered_by_id', sa.Integer(), nullable=True),
        sa.Column('building_id', sa.Integer(), nullable=True),
        sa.Column('unit_id', sa.Integer(), nullable=True),
        sa.Column('department', sa.String(length=32), nullable=True),
        sa.Column('handler_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=24), nullable=False),
        sa.Column('in_scope', sa.Boolean(), nullable=True),
        sa.Column('out_of_scope_reason', sa.Text(), nullable=True),
        sa.Column('disputes', sa.Integer(), nullable=False),
        sa.Column('escalation_level', sa.Integer(), nullable=False),
        sa.Column('limit_hours', sa.Float(), nullable=True),
        sa.Column('around_the_clock', sa.Boolean(), nullable=False),
        sa.Column('paused', sa.Boolean(), nullable=False),
        sa.Column('warn_at', sa.DateTime(), nullable=True),
        sa.Column('due_at', sa.DateTime(), nullable=True),
        sa.Column('pm_at', sa.DateTime(), nullable=True),
        sa.Column('hq_at', sa.DateTime(), nullable=True),
        sa.Column('extension_hours', sa.Float(), nullable=True),
        sa.Column('extension_status', sa.String(length=16), nullable=True),
        sa.Column('extension_reason', sa.Text(), nullable=True),
        sa.Column('findings', sa.Text(), nullable=True),
        sa.Column('action_plan', sa.Text(), nullable=True),
        sa.Column('result', sa.Text(), nullable=True),
        sa.Column('resolved_at', sa.DateTime(), nullable=True),
        sa.Column('within_limit', sa.Boolean(), nullable=True),
        sa.Column('closed_at', sa.DateTime(), nullable=True),
        sa.Column('satisfaction', sa.Integer(), nullable=True),
        sa.Column('revisit_note', sa.Text(), nullable=True),
        sa.Column('instance_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['building_id'], ['building.id'], name=op.f('fk_complaint_building_id_building')),
        sa.ForeignKeyConstraint(['complainant_id'], ['user_account.id'], name=op.f('fk_complaint_complainant_id_user_account')),
        sa.ForeignKeyConstraint(['handler_id'], ['user_account.id'], name=op.f('fk_complaint_handler_id_user_account')),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_complaint_instance_id_process_instance')),
        sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_complaint_project_id_project')),
        sa.ForeignKeyConstraint(['registered_by_id'], ['user_account.id'], name=op.f('fk_complaint_registered_by_id_user_account')),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_complaint_unit_id_unit')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint')),
        sa.UniqueConstraint('project_id', 'number', name=op.f('uq_complaint_project_id_number')),
    )
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_building_id'), ['building_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_due_at'), ['due_at'], unique=False)
        batch_op.create_index('ix_complaint_project_status', ['project_id', 'status', 'created_at'], unique=False)
        batch_op.create_index('ix_complaint_project_created', ['project_id', 'created_at'], unique=False)
        batch_op.create_index('ix_complaint_complainant', ['complainant_id', 'created_at'], unique=False)
        batch_op.create_index('ix_complaint_instance', ['instance_id'], unique=False)

    op.create_table(
        'complaint_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('complaint_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=24), nullable=True),
        sa.Column('level', sa.Integer(), nullable=True),
        sa.Column('round', sa.Integer(), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('due', sa.DateTime(), nullable=True),
        sa.Column('public', sa.Boolean(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['complaint_id'], ['complaint.id'], name=op.f('fk_complaint_event_complaint_id_complaint')),
        sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_complaint_event_project_id_project')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_event')),
    )
    with op.batch_alter_table('complaint_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_event_project_id'), ['project_id'], unique=False)
        batch_op.create_index('ix_complaint_event_complaint', ['complaint_id', 'at'], unique=False)
        batch_op.create_index('ix_complaint_event_kind', ['kind', 'level'], unique=False)

    op.create_table(
        'business_calendar',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('week', sa.JSON(), nullable=False),
        sa.Column('makeup_hours', sa.JSON(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_business_calendar_project_id_project')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_business_calendar')),
        sa.UniqueConstraint('project_id', name=op.f('uq_business_calendar_project_id')),
    )
    with op.batch_alter_table('business_calendar', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_business_calendar_project_id'), ['project_id'], unique=False)

    op.create_table(
        'business_calendar_day',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('calendar_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['calendar_id'], ['business_calendar.id'], name=op.f('fk_business_calendar_day_calendar_id_business_calendar')),
        sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_business_calendar_day_project_id_project')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_business_calendar_day')),
        sa.UniqueConstraint('calendar_id', 'day', name=op.f('uq_business_calendar_day_calendar_id_day')),
    )
    with op.batch_alter_table('business_calendar_day', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_business_calendar_day_calendar_id'), ['calendar_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_business_calendar_day_project_id'), ['project_id'], unique=False)


def downgrade():
    op.drop_table('business_calendar_day')
    op.drop_table('business_calendar')
    op.drop_table('complaint_event')
    op.drop_table('complaint')
