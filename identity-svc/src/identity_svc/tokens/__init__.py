"""The OAuth 2.0 token endpoint: password, refresh-token (rotating) and client-credentials
grants, and the access tokens they yield."""
