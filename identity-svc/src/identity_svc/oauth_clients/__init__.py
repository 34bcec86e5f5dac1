"""OAuth clients: the department systems and internal services that use client credentials."""
