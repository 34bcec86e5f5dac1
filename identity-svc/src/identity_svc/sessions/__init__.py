"""A citizen's sessions (one per sign-in): listed with their device and address, and ended."""
