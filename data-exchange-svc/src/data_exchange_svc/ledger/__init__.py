"""The access ledger: every match and call, allowed or refused, in an RFC 6962 Merkle tree with
signed tree heads, inclusion and consistency proofs, and an offline verifier."""
