"""Token-signing keys: ES256 (Ed25519 for older ones), sealed at rest, published as a JWKS."""
