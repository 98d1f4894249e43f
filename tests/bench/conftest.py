"""Fixtures for the benchmark smoke test (``bench.run --tiny``). Shared ones are in
tests/conftest.py."""
