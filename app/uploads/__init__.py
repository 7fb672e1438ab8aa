"""Uploaded files (photos of a repair, a signed PDF): stored under ``<instance>/uploads/``.

Task data refers to an upload by the string ``"upload:<id>"`` (:mod:`app.uploads.refs`); the
file itself never enters workflow state.
"""
