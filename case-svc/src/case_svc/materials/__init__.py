"""The materials of a case: the files its applicant and its handlers add to it, described in
the database and kept sealed in the material store."""
