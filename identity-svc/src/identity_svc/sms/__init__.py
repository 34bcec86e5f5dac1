"""One-time codes by SMS, which prove a phone (to register it or sign in with it), and the seam
through which messages leave."""
