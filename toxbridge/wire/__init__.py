"""The wire protocol: message types, header fields, encode/decode. Pure: no I/O."""
