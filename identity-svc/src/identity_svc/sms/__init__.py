"""One-time sign-in codes by SMS, and the seam through which messages leave."""
