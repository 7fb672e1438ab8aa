"""Repairs (报修): an owner's request, routed to a team, accepted, done, rated and revisited.

The workflow (``processes/repair.bpmn``) decides what happens next; :class:`Ticket` keeps
what lists and statistics need, kept in step with the workflow by :mod:`app.repairs.projection`.
"""
