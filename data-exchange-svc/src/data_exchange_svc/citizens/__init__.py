"""Citizens and their data: the link from an account to a registry subject, consents to a
department's use of her data for one case, and the log of every access attempt about her."""
