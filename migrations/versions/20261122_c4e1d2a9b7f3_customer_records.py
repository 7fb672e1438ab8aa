"""customer records

Revision ID: c4e1d2a9b7f3
Revises: b7c2d9e4f1a0
Create Date: 2026-11-22 12:00:00

Customers (客户档案), their unit links, family members, vehicles, custom fields, tags and
merge history. Protected values are stored encrypted (*_enc) with HMAC blind indexes (*_bidx).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4e1d2a9b7f3'
down_revision = 'b7c2d9e4f1a0'
branch_labels = None
depends_on = None


def upgrade():
    # ### customer records ###
    op.create_table('customer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_key', sa.String(length=200), nullable=False),
    sa.Column('id_type', sa.String(length=16), nullable=True),
    sa.Column('id_number_enc', sa.String(length=200), nullable=True),
    sa.Column('id_number_bidx', sa.String(length=64), nullable=True),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('phone_enc', sa.String(length=200), nullable=True),
    sa.Column('phone_bidx', sa.String(length=64), nullable=True),
    sa.Column('bank_account_enc', sa.String(length=200), nullable=True),
    sa.Column('bank_account_bidx', sa.String(length=64), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('preferred_channel', sa.String(length=16), nullable=False),
    sa.Column('emergency_name', sa.String(length=100), nullable=True),
    sa.Column('emergency_relation', sa.String(length=50), nullable=True),
    sa.Column('emergency_phone_enc', sa.String(length=200), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('anonymised_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['merged_into_id'], ['customer.id'], name=op.f('fk_customer_merged_into_id_customer')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_customer_project_id_project')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_customer_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer')),
    sa.UniqueConstraint('project_id', 'number', name=op.f('uq_customer_project_id_number')),
    sa.UniqueConstraint('user_id', name=op.f('uq_customer_user_id'))
    )
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_bank_account_bidx'), ['bank_account_bidx'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_birth_date'), ['birth_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_id_number_bidx'), ['id_number_bidx'], unique=False)
        batch_op.create_index('ix_customer_merged_into_id', ['merged_into_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_phone_bidx'), ['phone_bidx'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_project_id'), ['project_id'], unique=False)
        batch_op.create_index('ix_customer_project_status_name', ['project_id', 'status', 'name'], unique=False)

    op.create_table('customer_field_def',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('choices', sa.JSON(), nullable=True),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_customer_field_def_project_id_project')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_field_def')),
    sa.UniqueConstraint('project_id', 'code', name=op.f('uq_customer_field_def_project_id_code'))
    )
    with op.batch_alter_table('customer_field_def', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_field_def_project_id'), ['project_id'], unique=False)

    op.create_table('customer_tag_def',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('rule_text', sa.String(length=300), nullable=True),
    sa.Column('computed_at', sa.DateTime(), nullable=True),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_customer_tag_def_project_id_project')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_tag_def')),
    sa.UniqueConstraint('project_id', 'code', name=op.f('uq_customer_tag_def_project_id_code'))
    )
    with op.batch_alter_table('customer_tag_def', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_tag_def_project_id'), ['project_id'], unique=False)

    op.create_table('customer_unit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('relation', sa.String(length=16), nullable=False),
    sa.Column('move_in', sa.Date(), nullable=True),
    sa.Column('move_out', sa.Date(), nullable=True),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_customer_unit_customer_id_customer')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_customer_unit_project_id_project')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_customer_unit_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_unit'))
    )
    with op.batch_alter_table('customer_unit', schema=None) as batch_op:
        batch_op.create_index('ix_customer_unit_customer_id', ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_unit_project_id'), ['project_id'], unique=False)
        batch_op.create_index('ix_customer_unit_project_move_in', ['project_id', 'move_in'], unique=False)
        batch_op.create_index('ix_customer_unit_unit_customer', ['unit_id', 'customer_id'], unique=False)

    op.create_table('customer_family_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('relation', sa.String(length=50), nullable=False),
    sa.Column('phone_enc', sa.String(length=200), nullable=True),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_customer_family_member_customer_id_customer')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_customer_family_member_project_id_project')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_family_member'))
    )
    with op.batch_alter_table('customer_family_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_family_member_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_family_member_project_id'), ['project_id'], unique=False)

    op.create_table('customer_vehicle',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('plate', sa.String(length=16), nullable=False),
    sa.Column('parking_space', sa.String(length=32), nullable=True),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_customer_vehicle_customer_id_customer')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_customer_vehicle_project_id_project')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_vehicle'))
    )
    with op.batch_alter_table('customer_vehicle', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_vehicle_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_vehicle_project_id'), ['project_id'], unique=False)
        batch_op.create_index('ix_customer_vehicle_project_plate', ['project_id', 'plate'], unique=False)

    op.create_table('customer_field_value',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('field_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.String(length=500), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_customer_field_value_customer_id_customer')),
    sa.ForeignKeyConstraint(['field_id'], ['customer_field_def.id'], name=op.f('fk_customer_field_value_field_id_customer_field_def')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_customer_field_value_project_id_project')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_field_value')),
    sa.UniqueConstraint('customer_id', 'field_id', name=op.f('uq_customer_field_value_customer_id_field_id'))
    )
    with op.batch_alter_table('customer_field_value', schema=None) as batch_op:
        batch_op.create_index('ix_customer_field_value_field_value', ['field_id', 'value'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_field_value_project_id'), ['project_id'], unique=False)

    op.create_table('customer_tag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_customer_tag_customer_id_customer')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_customer_tag_project_id_project')),
    sa.ForeignKeyConstraint(['tag_id'], ['customer_tag_def.id'], name=op.f('fk_customer_tag_tag_id_customer_tag_def')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_tag')),
    sa.UniqueConstraint('customer_id', 'tag_id', name=op.f('uq_customer_tag_customer_id_tag_id'))
    )
    with op.batch_alter_table('customer_tag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_tag_project_id'), ['project_id'], unique=False)
        batch_op.create_index('ix_customer_tag_tag_customer', ['tag_id', 'customer_id'], unique=False)

    op.create_table('customer_merge',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('merged_at', sa.DateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_customer_merge_project_id_project')),
    sa.ForeignKeyConstraint(['source_id'], ['customer.id'], name=op.f('fk_customer_merge_source_id_customer')),
    sa.ForeignKeyConstraint(['target_id'], ['customer.id'], name=op.f('fk_customer_merge_target_id_customer')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_customer_merge_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_merge'))
    )
    with op.batch_alter_table('customer_merge', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_merge_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_merge_source_id'), ['source_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_merge_target_id'), ['target_id'], unique=False)

    # ### end Alembic commands ###

def downgrade():
    # ### customer records ###
    with op.batch_alter_table('customer_merge', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_merge_target_id'))
        batch_op.drop_index(batch_op.f('ix_customer_merge_source_id'))
        batch_op.drop_index(batch_op.f('ix_customer_merge_project_id'))

    op.drop_table('customer_merge')
    with op.batch_alter_table('customer_tag', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_tag_tag_customer')
        batch_op.drop_index(batch_op.f('ix_customer_tag_project_id'))

    op.drop_table('customer_tag')
    with op.batch_alter_table('customer_field_value', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_field_value_project_id'))
        batch_op.drop_index('ix_customer_field_value_field_value')

    op.drop_table('customer_field_value')
    with op.batch_alter_table('customer_vehicle', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_vehicle_project_plate')
        batch_op.drop_index(batch_op.f('ix_customer_vehicle_project_id'))
        batch_op.drop_index(batch_op.f('ix_customer_vehicle_customer_id'))

    op.drop_table('customer_vehicle')
    with op.batch_alter_table('customer_family_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_family_member_project_id'))
        batch_op.drop_index(batch_op.f('ix_customer_family_member_customer_id'))

    op.drop_table('customer_family_member')
    with op.batch_alter_table('customer_unit', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_unit_unit_customer')
        batch_op.drop_index('ix_customer_unit_project_move_in')
        batch_op.drop_index(batch_op.f('ix_customer_unit_project_id'))
        batch_op.drop_index('ix_customer_unit_customer_id')

    op.drop_table('customer_unit')
    with op.batch_alter_table('customer_tag_def', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_tag_def_project_id'))

    op.drop_table('customer_tag_def')
    with op.batch_alter_table('customer_field_def', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_field_def_project_id'))

    op.drop_table('customer_field_def')
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_project_status_name')
        batch_op.drop_index(batch_op.f('ix_customer_project_id'))
        batch_op.drop_index(batch_op.f('ix_customer_phone_bidx'))
        batch_op.drop_index('ix_customer_merged_into_id')
        batch_op.drop_index(batch_op.f('ix_customer_id_number_bidx'))
        batch_op.drop_index(batch_op.f('ix_customer_birth_date'))
        batch_op.drop_index(batch_op.f('ix_customer_bank_account_bidx'))

    op.drop_table('customer')
    # ### end Alembic commands ###