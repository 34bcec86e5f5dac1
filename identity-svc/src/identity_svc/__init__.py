"""identity-svc: citizens' accounts and credentials, real-name and face verification, the
OAuth 2.0 token endpoint and the signing keys every service verifies access tokens with."""
