"""Fixtures for the config tests (settings, health, logs, metrics, i18n, security).
Shared ones are in tests/conftest.py; ``django_process`` runs Django in a fresh process
with an environment of the test's choosing."""
