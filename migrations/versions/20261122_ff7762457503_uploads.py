"""uploads

Revision ID: ff7762457503
Revises: 9b3f6a2d1c85
Create Date: 2026-11-22 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ff7762457503'
down_revision = "9b3f6a2d1c85"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('upload',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('original_name', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('task_id', sa.String(length=64), nullable=True),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_upload_project_id_project')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user_account.id'], name=op.f('fk_upload_uploaded_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_upload')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_upload_stored_name'))
    )
    with op.batch_alter_table('upload', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_upload_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_upload_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_upload_uploaded_by_id'), ['uploaded_by_id'], unique=False)


def downgrade():
    with op.batch_alter_table('upload', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_upload_uploaded_by_id'))
        batch_op.drop_index(batch_op.f('ix_upload_project_id'))
        batch_op.drop_index(batch_op.f('ix_upload_instance_id'))

    op.drop_table('upload')
