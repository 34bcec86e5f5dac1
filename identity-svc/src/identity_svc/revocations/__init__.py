"""The revocation list: access tokens ended before their expiry, recorded and published."""
