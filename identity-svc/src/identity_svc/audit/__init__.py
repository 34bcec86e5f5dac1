"""The audit trail: what administrators changed about staff accounts and clients."""
