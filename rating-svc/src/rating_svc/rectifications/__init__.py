"""Rectifying a bad review: the department's queue, the call-back, the rectification, the
citizen's follow-up rating that closes it, and the watch that escalates overdue steps."""
