"""Appeals (申诉): a department contests a review of its case; the tier above decides."""
