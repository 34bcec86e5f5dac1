"""Delegation: a citizen lets another act for them, and the delegate's token exchange."""
