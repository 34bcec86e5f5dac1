"""An account holder changing their own credentials (the password)."""
