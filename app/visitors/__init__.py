"""Visitors (来访登记): invitations, requests from the public page, batch passes, the gate."""
