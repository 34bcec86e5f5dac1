"""Case numbers, the human-facing numbers of applications: the handling department's region
code in its official form (6, 9 or 12 digits), the day it was filed (Asia/Shanghai) and its
sequence that day, ``330302-20261126-000001``. The gateway routes by the region they start with.

A draft application, which becomes a case when submitted, has a number of the same make: the
region of the department that will handle it, ``D`` and the day it was opened, and twelve random
hexadecimal digits, ``330300-D20261207-3f9a0c1b5e27`` (a draft is not counted in the day's
sequence: most are never submitted). Consents and data calls may name either.

A one-issue application (a bundle filed once, with a child case at each department it
concerns) is numbered by the applicant's county, ``B`` and the day it was filed, and twelve
random hexadecimal digits, ``330302-B20261207-3f9a0c1b5e27``: it lives in the instance serving
her region, whatever instances its children live in.
"""

import re
from typing import Annotated

from pydantic import WithJsonSchema

_DAY = r"20\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
#: Their shape, for documents.
CASE_NUMBER_PATTERN = rf"^\d{{6}}(?:\d{{3}}){{0,2}}-{_DAY}-\d{{6}}$"
#: The shape of a draft application's number.
DRAFT_NUMBER_PATTERN = rf"^\d{{6}}(?:\d{{3}}){{0,2}}-D{_DAY}-[0-9a-f]{{12}}$"
#: The shape of a one-issue application's number.
BUNDLE_APPLICATION_NUMBER_PATTERN = rf"^\d{{6}}(?:\d{{3}}){{0,2}}-B{_DAY}-[0-9a-f]{{12}}$"
#: What a citizen-facing data call or consent may name: a case or a draft of one.
APPLICATION_NUMBER_PATTERN = rf"(?:{CASE_NUMBER_PATTERN})|(?:{DRAFT_NUMBER_PATTERN})"

_DRAFT = re.compile(DRAFT_NUMBER_PATTERN)


def is_draft_number(number: str) -> bool:
    """Whether ``number`` is a draft application's (else it is, at most, a case's)."""
    return _DRAFT.fullmatch(number) is not None


#: A case number as a string that the service looks up itself (a malformed one is no case),
#: documented with ``CASE_NUMBER_PATTERN``.
CaseNumberStr = Annotated[
    str,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": CASE_NUMBER_PATTERN,
            "description": "A case number: the handling department's region code, the day it "
            "was filed and its sequence that day",
            "examples": ["330302-20261126-000001"],
        }
    ),
]

#: A draft application's number, looked up by the service itself (a malformed one is no draft).
DraftNumberStr = Annotated[
    str,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": DRAFT_NUMBER_PATTERN,
            "description": "A draft application's number: the handling department's region "
            "code, D and the day it was opened, and twelve random hexadecimal digits",
            "examples": ["330300-D20261207-3f9a0c1b5e27"],
        }
    ),
]

#: A one-issue application's number, looked up by the service itself.
BundleApplicationNumberStr = Annotated[
    str,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": BUNDLE_APPLICATION_NUMBER_PATTERN,
            "description": "A one-issue application's number: the applicant's county, B and "
            "the day it was filed, and twelve random hexadecimal digits",
            "examples": ["330302-B20261207-3f9a0c1b5e27"],
        }
    ),
]
