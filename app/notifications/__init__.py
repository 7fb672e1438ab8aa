"""Notifications: templates per event, channel and language; SMS, e-mail and in-app delivery.

Public API: :func:`app.notifications.service.notify`, :class:`Recipient`,
:class:`NotificationError`, :func:`app.notifications.templates.validate_templates`.
"""
