"""Exact per-test results from inside pytest: the record format, the pytest and tox plugins."""
