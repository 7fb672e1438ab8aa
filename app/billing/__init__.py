"""Fees, payments and arrears (物业费与催缴)."""
