"""The rules of the good/bad-review system as data: the five levels and their tags
(``levels.toml``), the rectification workflow (``rectification.toml``)."""
