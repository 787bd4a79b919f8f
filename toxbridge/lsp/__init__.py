"""`toxbridge lsp`: the stdio JSON-RPC (LSP) bridge that editors launch.

Only `toxbridge.cli.lsp` is imported by the command line; everything that needs pygls
or lsprotocol is imported from its `run()`.
"""
