"""Cases: submission, reading, the department's queue and transitions."""
