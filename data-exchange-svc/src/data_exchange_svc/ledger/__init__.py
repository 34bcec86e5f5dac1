"""The access ledger: every match and call, allowed or refused, in a hash chain."""
