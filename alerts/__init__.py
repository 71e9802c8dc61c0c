"""Keyword alerts: rules -> matches -> outbox -> channels, run after storage from the database.

Imports db, never crawler or scheduler (docs: DESIGN.md, "Alerts run after storage").
"""
