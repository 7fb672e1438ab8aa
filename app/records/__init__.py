"""Customer records (客户档案): customers, their units, family, vehicles, tags and custom fields.

Protected values (ID, phone and bank-account numbers) are encrypted at rest and searchable only
by exact match through a keyed blind index; see :mod:`app.records.crypto`.
"""
