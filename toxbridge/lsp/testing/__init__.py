"""Tests in the editor: the test tree (discovery), a fast local scan for code lenses, and
per-test results. The modules here that build values are pure: no LSP, no I/O."""
