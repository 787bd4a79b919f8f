"""Processes: tox started in its own session, read on demand, stopped as a tree.

Only the standard library here (and asyncio); no ZMQ, no protocol.
"""
