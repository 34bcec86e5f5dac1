"""Staff accounts: department staff and administrators, created by administrators."""
