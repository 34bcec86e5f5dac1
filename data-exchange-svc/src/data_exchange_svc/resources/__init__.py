"""The catalogue of data resources departments publish for sharing."""
