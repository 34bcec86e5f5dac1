"""Resources whose provider answers each question itself."""
