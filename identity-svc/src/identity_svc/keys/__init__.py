"""Token-signing keys: Ed25519, sealed at rest, published as a JWKS."""
