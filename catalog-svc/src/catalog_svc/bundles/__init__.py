"""One-issue bundles (一件事): several items applied for together with one form."""
