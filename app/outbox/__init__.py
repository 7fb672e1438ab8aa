"""A generic transactional outbox: side effects written with the event, delivered after commit.

Operations call :func:`app.outbox.operations.enqueue` (add + flush, never send). The dispatcher
(:func:`app.outbox.dispatcher.dispatch_due`) claims due rows and hands each to the deliverer
registered for its ``kind`` (:func:`app.outbox.dispatcher.register_deliverer`). See
``app/outbox/dispatcher.py`` for the exactly-once guarantee and its limits.
"""
