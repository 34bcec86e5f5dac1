"""Case numbers, the human-facing numbers of applications: the handling department's region
code in its official form (6, 9 or 12 digits), the day it was filed (Asia/Shanghai) and its
sequence that day, ``330302-20261126-000001``. The gateway routes by the region they start with.
"""

from typing import Annotated

from pydantic import WithJsonSchema

_DAY = r"20\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
#: Their shape, for documents.
CASE_NUMBER_PATTERN = rf"^\d{{6}}(?:\d{{3}}){{0,2}}-{_DAY}-\d{{6}}$"
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
