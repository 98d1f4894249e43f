"""Fixtures for the API-wide tests (contract, permission matrix, fuzzing). Shared ones
are in tests/conftest.py; ``fuzz_seed`` is the fuzzer's seeding script, run in the
fuzzed server's own database."""
