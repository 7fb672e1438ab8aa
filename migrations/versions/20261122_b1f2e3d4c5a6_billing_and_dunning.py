"""billing and dunning

Revision ID: b1f2e3d4c5a6
Revises: f5a8c3d1e7b2
Create Date: 2026-11-22 18:00:00

Fees and arrears (物业费与催缴): fee items, discount rules and per-project settings, meter
readings, bills with their lines and billing runs, payments with allocations, the prepayment
balance ledger, refunds, imported bank statements, dunning cases and the door-access command
log. Money columns are integer fen.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b1f2e3d4c5a6'
down_revision = "f5a8c3d1e7b2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('billing_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('bills_created', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('actor_label', sa.String(length=100), nullable=True),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_billing_run_project_id_project')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_run'))
    )
    op.create_index(op.f('ix_billing_run_project_id'), 'billing_run', ['project_id'], unique=False)
    op.create_table('billing_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('late_fee_per_10k_daily', sa.Integer(), nullable=False),
    sa.Column('late_fee_grace_days', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_billing_settings_project_id_project')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_settings')),
    sa.UniqueConstraint('project_id', name=op.f('uq_billing_settings_project_id'))
    )
    op.create_index(op.f('ix_billing_settings_project_id'), 'billing_settings', ['project_id'], unique=False)
    op.create_table('fee_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('unit_price_fen', sa.Integer(), nullable=False),
    sa.Column('cycle', sa.String(length=16), nullable=False),
    sa.Column('due_days', sa.Integer(), nullable=False),
    sa.Column('unit_ids', sa.JSON(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_fee_item_project_id_project')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fee_item')),
    sa.UniqueConstraint('project_id', 'code', name=op.f('uq_fee_item_project_id_code'))
    )
    op.create_index(op.f('ix_fee_item_project_id'), 'fee_item', ['project_id'], unique=False)
    op.create_table('statement_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('imported_at', sa.DateTime(), nullable=False),
    sa.Column('imported_by_id', sa.Integer(), nullable=True),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('rows_matched', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['imported_by_id'], ['user_account.id'], name=op.f('fk_statement_import_imported_by_id_user_account')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_statement_import_project_id_project')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statement_import'))
    )
    op.create_index(op.f('ix_statement_import_project_id'), 'statement_import', ['project_id'], unique=False)
    op.create_table('discount_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fee_item_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('min_months', sa.Integer(), nullable=False),
    sa.Column('percent_bp', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['fee_item_id'], ['fee_item.id'], name=op.f('fk_discount_rule_fee_item_id_fee_item')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_discount_rule_project_id_project')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_discount_rule'))
    )
    op.create_index(op.f('ix_discount_rule_project_id'), 'discount_rule', ['project_id'], unique=False)
    op.create_table('bill',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=48), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('fee_item_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_months', sa.Integer(), nullable=False),
    sa.Column('gross_fen', sa.BigInteger(), nullable=False),
    sa.Column('discount_fen', sa.BigInteger(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('paid_fen', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('issued_at', sa.DateTime(), nullable=False),
    sa.Column('paid_at', sa.DateTime(), nullable=True),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_bill_customer_id_customer')),
    sa.ForeignKeyConstraint(['fee_item_id'], ['fee_item.id'], name=op.f('fk_bill_fee_item_id_fee_item')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_bill_project_id_project')),
    sa.ForeignKeyConstraint(['run_id'], ['billing_run.id'], name=op.f('fk_bill_run_id_billing_run')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_bill_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bill')),
    sa.UniqueConstraint('number', name=op.f('uq_bill_number')),
    sa.UniqueConstraint('unit_id', 'fee_item_id', 'period_start', name=op.f('uq_bill_unit_id_fee_item_id_period_start'))
    )
    op.create_index(op.f('ix_bill_customer_id'), 'bill', ['customer_id'], unique=False)
    op.create_index(op.f('ix_bill_project_id'), 'bill', ['project_id'], unique=False)
    op.create_index('ix_bill_project_period', 'bill', ['project_id', 'period_start'], unique=False)
    op.create_index('ix_bill_project_status_due', 'bill', ['project_id', 'status', 'due_date'], unique=False)
    op.create_index('ix_bill_unit_status_due', 'bill', ['unit_id', 'status', 'due_date'], unique=False)
    op.create_table('door_access_command',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('adapter', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.Column('executed_at', sa.DateTime(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_door_access_command_project_id_project')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_door_access_command_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_door_access_command')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_door_access_command_idempotency_key'))
    )
    op.create_index(op.f('ix_door_access_command_project_id'), 'door_access_command', ['project_id'], unique=False)
    op.create_index('ix_door_access_command_unit', 'door_access_command', ['unit_id', 'id'], unique=False)
    op.create_table('dunning_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('oldest_due', sa.Date(), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('reminders', sa.Integer(), nullable=False),
    sa.Column('last_reminder_at', sa.DateTime(), nullable=True),
    sa.Column('restarts', sa.Integer(), nullable=False),
    sa.Column('freeze_state', sa.String(length=16), nullable=True),
    sa.Column('freeze_reason', sa.Text(), nullable=True),
    sa.Column('log', sa.JSON(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_dunning_case_instance_id_process_instance')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_dunning_case_project_id_project')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_dunning_case_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dunning_case'))
    )
    op.create_index(op.f('ix_dunning_case_instance_id'), 'dunning_case', ['instance_id'], unique=False)
    op.create_index(op.f('ix_dunning_case_project_id'), 'dunning_case', ['project_id'], unique=False)
    op.create_index('ix_dunning_case_unit_status', 'dunning_case', ['unit_id', 'status'], unique=False)
    op.create_table('meter_reading',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('fee_item_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('previous', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('current', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('quantity_c', sa.BigInteger(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('read_at', sa.DateTime(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['fee_item_id'], ['fee_item.id'], name=op.f('fk_meter_reading_fee_item_id_fee_item')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_meter_reading_project_id_project')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_meter_reading_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meter_reading')),
    sa.UniqueConstraint('unit_id', 'fee_item_id', 'period_start', name=op.f('uq_meter_reading_unit_id_fee_item_id_period_start'))
    )
    op.create_index(op.f('ix_meter_reading_fee_item_id'), 'meter_reading', ['fee_item_id'], unique=False)
    op.create_index(op.f('ix_meter_reading_project_id'), 'meter_reading', ['project_id'], unique=False)
    op.create_table('payment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=True),
    sa.Column('payer', sa.String(length=100), nullable=True),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('to_balance_fen', sa.BigInteger(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('received_by_id', sa.Integer(), nullable=True),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_payment_customer_id_customer')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_payment_project_id_project')),
    sa.ForeignKeyConstraint(['received_by_id'], ['user_account.id'], name=op.f('fk_payment_received_by_id_user_account')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_payment_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment')),
    sa.UniqueConstraint('number', name=op.f('uq_payment_number'))
    )
    op.create_index(op.f('ix_payment_project_id'), 'payment', ['project_id'], unique=False)
    op.create_index('ix_payment_project_received', 'payment', ['project_id', 'received_at'], unique=False)
    op.create_index('ix_payment_unit_received', 'payment', ['unit_id', 'received_at'], unique=False)
    op.create_table('refund',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'], name=op.f('fk_refund_decided_by_id_user_account')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_refund_project_id_project')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'], name=op.f('fk_refund_requested_by_id_user_account')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_refund_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refund'))
    )
    op.create_index(op.f('ix_refund_project_id'), 'refund', ['project_id'], unique=False)
    op.create_index(op.f('ix_refund_unit_id'), 'refund', ['unit_id'], unique=False)
    op.create_table('balance_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.Column('refund_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['payment_id'], ['payment.id'], name=op.f('fk_balance_entry_payment_id_payment')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_balance_entry_project_id_project')),
    sa.ForeignKeyConstraint(['refund_id'], ['refund.id'], name=op.f('fk_balance_entry_refund_id_refund')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_balance_entry_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_balance_entry'))
    )
    op.create_index(op.f('ix_balance_entry_project_id'), 'balance_entry', ['project_id'], unique=False)
    op.create_index('ix_balance_entry_unit', 'balance_entry', ['unit_id', 'id'], unique=False)
    op.create_table('bill_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bill_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('quantity_c', sa.BigInteger(), nullable=False),
    sa.Column('unit_price_fen', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['bill_id'], ['bill.id'], name=op.f('fk_bill_line_bill_id_bill')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bill_line'))
    )
    op.create_index(op.f('ix_bill_line_bill_id'), 'bill_line', ['bill_id'], unique=False)
    op.create_table('statement_row',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('statement_id', sa.Integer(), nullable=False),
    sa.Column('row_no', sa.Integer(), nullable=False),
    sa.Column('booked_on', sa.Date(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=False),
    sa.Column('payer', sa.String(length=100), nullable=True),
    sa.Column('bill_number', sa.String(length=48), nullable=True),
    sa.Column('unit_text', sa.String(length=64), nullable=True),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['payment_id'], ['payment.id'], name=op.f('fk_statement_row_payment_id_payment')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_statement_row_project_id_project')),
    sa.ForeignKeyConstraint(['statement_id'], ['statement_import.id'], name=op.f('fk_statement_row_statement_id_statement_import')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statement_row'))
    )
    op.create_index(op.f('ix_statement_row_project_id'), 'statement_row', ['project_id'], unique=False)
    op.create_index('ix_statement_row_project_status', 'statement_row', ['project_id', 'status'], unique=False)
    op.create_index('ix_statement_row_reference', 'statement_row', ['project_id', 'reference'], unique=False)
    op.create_table('payment_allocation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.Column('balance_entry_id', sa.Integer(), nullable=True),
    sa.Column('bill_id', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['balance_entry_id'], ['balance_entry.id'], name=op.f('fk_payment_allocation_balance_entry_id_balance_entry')),
    sa.ForeignKeyConstraint(['bill_id'], ['bill.id'], name=op.f('fk_payment_allocation_bill_id_bill')),
    sa.ForeignKeyConstraint(['payment_id'], ['payment.id'], name=op.f('fk_payment_allocation_payment_id_payment')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_payment_allocation_project_id_project')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_allocation'))
    )
    op.create_index('ix_payment_allocation_bill', 'payment_allocation', ['bill_id'], unique=False)
    op.create_index(op.f('ix_payment_allocation_payment_id'), 'payment_allocation', ['payment_id'], unique=False)
    op.create_index(op.f('ix_payment_allocation_project_id'), 'payment_allocation', ['project_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_payment_allocation_payment_id'), table_name='payment_allocation')
    op.drop_index('ix_payment_allocation_bill', table_name='payment_allocation')
    op.drop_table('payment_allocation')
    op.drop_index('ix_statement_row_reference', table_name='statement_row')
    op.drop_index('ix_statement_row_project_status', table_name='statement_row')
    op.drop_index(op.f('ix_statement_row_project_id'), table_name='statement_row')
    op.drop_table('statement_row')
    op.drop_index(op.f('ix_bill_line_bill_id'), table_name='bill_line')
    op.drop_table('bill_line')
    op.drop_index('ix_balance_entry_unit', table_name='balance_entry')
    op.drop_index(op.f('ix_balance_entry_project_id'), table_name='balance_entry')
    op.drop_table('balance_entry')
    op.drop_index(op.f('ix_refund_unit_id'), table_name='refund')
    op.drop_index(op.f('ix_refund_project_id'), table_name='refund')
    op.drop_table('refund')
    op.drop_index('ix_payment_unit_received', table_name='payment')
    op.drop_index('ix_payment_project_received', table_name='payment')
    op.drop_index(op.f('ix_payment_project_id'), table_name='payment')
    op.drop_table('payment')
    op.drop_index(op.f('ix_meter_reading_project_id'), table_name='meter_reading')
    op.drop_index(op.f('ix_meter_reading_fee_item_id'), table_name='meter_reading')
    op.drop_table('meter_reading')
    op.drop_index('ix_dunning_case_unit_status', table_name='dunning_case')
    op.drop_index(op.f('ix_dunning_case_project_id'), table_name='dunning_case')
    op.drop_index(op.f('ix_dunning_case_instance_id'), table_name='dunning_case')
    op.drop_table('dunning_case')
    op.drop_index('ix_door_access_command_unit', table_name='door_access_command')
    op.drop_index(op.f('ix_door_access_command_project_id'), table_name='door_access_command')
    op.drop_table('door_access_command')
    op.drop_index('ix_bill_unit_status_due', table_name='bill')
    op.drop_index('ix_bill_project_status_due', table_name='bill')
    op.drop_index('ix_bill_project_period', table_name='bill')
    op.drop_index(op.f('ix_bill_project_id'), table_name='bill')
    op.drop_index(op.f('ix_bill_customer_id'), table_name='bill')
    op.drop_table('bill')
    op.drop_index(op.f('ix_discount_rule_project_id'), table_name='discount_rule')
    op.drop_table('discount_rule')
    op.drop_index(op.f('ix_statement_import_project_id'), table_name='statement_import')
    op.drop_table('statement_import')
    op.drop_index(op.f('ix_fee_item_project_id'), table_name='fee_item')
    op.drop_table('fee_item')
    op.drop_index(op.f('ix_billing_settings_project_id'), table_name='billing_settings')
    op.drop_table('billing_settings')
    op.drop_index(op.f('ix_billing_run_project_id'), table_name='billing_run')
    op.drop_table('billing_run')
