"""The network side of clients: the DEALER client, and CURVE keys for both sides."""
