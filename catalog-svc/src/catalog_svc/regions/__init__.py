"""The region tree: lookups in any written form, ancestors, children, retired codes."""
