"""Citizens' accounts: registration and the account's own view of itself."""
