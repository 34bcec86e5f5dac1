"""OAuth clients: the department systems and internal services that use client credentials,
the portals that sign citizens in, and the platform's app."""
