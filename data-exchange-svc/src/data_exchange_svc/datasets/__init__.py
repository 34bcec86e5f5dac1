"""The hosted datasets: a provider's bulk load of its records, and what a resource holds about
one subject (the population registry's record, or the rows of another hosted dataset), read
for a granted call or compared for a match."""
