"""What a provider's bulk load takes and gives."""

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from data_exchange_svc.calls.schemas import FieldName, Subject

#: Records per request at most: a batch is one transaction.
MAX_RECORDS = 1000


class RecordLoad(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: Subject
    #: Every loaded field of the resource (see its catalogue entry), in its type's JSON form.
    fields: dict[FieldName, JsonValue] = Field(max_length=64)


class RecordBatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "records": [
                        {
                            "subject": {"id_number": "330302195203140248"},
                            "fields": {
                                "name": "林秀英",
                                "sex": "female",
                                "birth_date": "1952-03-14",
                                "registered_region": "330302026003",
                            },
                        }
                    ]
                }
            ]
        },
    )

    #: For a many-row resource, a subject's records in a batch are all its rows.
    records: list[RecordLoad] = Field(min_length=1, max_length=MAX_RECORDS)


class LoadRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "resource": "population",
                    "records": 1,
                    "subjects": 1,
                    "created": 0,
                    "replaced": 1,
                    "rows": 1,
                }
            ]
        }
    )

    resource: str
    #: Records received, and the subjects they name.
    records: int
    subjects: int
    #: Subjects the resource did not hold before, and subjects whose rows were replaced.
    created: int
    replaced: int
    #: Rows now stored for these subjects.
    rows: int
