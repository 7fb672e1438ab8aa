"""Complaints (投诉): intake, triage, handling with business-hours time limits, escalation,
feedback, revisit and statistics. The flow itself is ``processes/complaint.bpmn``.
"""
