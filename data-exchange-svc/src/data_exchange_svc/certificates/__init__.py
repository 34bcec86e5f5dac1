"""Issuing one electronic certificate into the certificate library, by its issuer."""
