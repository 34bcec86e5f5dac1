"""Draft applications: an item's form filled in by the platform where it can (the applicant's
verified identity; data resources read through the exchange with her consent to the draft),
each value with its provenance, corrected by her where she must, then submitted as the case."""
