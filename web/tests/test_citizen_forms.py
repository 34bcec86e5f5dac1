"""The application form as the citizen's pages read an item's JSON Schema, what they send of
what she posts, and how they place the platform's refusals beside her fields."""

import json
from pathlib import Path

import pytest

from onevisit_web.citizen.cases import progress, supplement_notice
from onevisit_web.citizen.forms import (
    changed_values,
    field_errors,
    form_fields,
    posted_values,
    shown,
)
from onevisit_web.citizen.identity import demo_capture

LOSS_REPORT = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "title": "姓名", "x-applicant": "name"},
        "contact_phone": {"type": "string", "title": "联系电话"},
        "loss_reason": {
            "type": "string",
            "title": "挂失原因",
            "oneOf": [{"const": "lost", "title": "遗失"}, {"const": "stolen", "title": "被盗"}],
        },
        "loss_date": {"type": "string", "format": "date", "title": "丢失日期"},
        "loss_place": {"type": "string", "title": "丢失地点", "maxLength": 200},
        "amount_cny": {"type": "number", "title": "金额"},
        "children": {"type": "integer", "title": "子女人数"},
        "channel": {"type": "string", "enum": ["mail", "counter"]},
    },
    "required": ["name", "loss_reason", "loss_date", "contact_phone"],
}


def test_each_schema_property_becomes_a_field_of_its_kind_in_order() -> None:
    fields = {item.name: item for item in form_fields(LOSS_REPORT)}
    assert list(fields) == list(LOSS_REPORT["properties"])
    assert fields["name"].applicant == "name"
    assert fields["contact_phone"].applicant is None
    assert fields["loss_reason"].kind == "select"
    assert fields["loss_reason"].options == (("lost", "遗失"), ("stolen", "被盗"))
    assert fields["channel"].options == (("mail", "mail"), ("counter", "counter"))
    assert fields["loss_date"].kind == "date"
    assert fields["amount_cny"].kind == "number"
    assert fields["children"].integer
    assert fields["loss_place"].max_length == 200
    assert fields["loss_date"].required
    assert not fields["loss_place"].required
    assert fields["channel"].label == "channel"


def test_only_what_she_changed_is_sent_typed_and_her_identity_never() -> None:
    fields = form_fields(LOSS_REPORT)
    posted = {
        "name": "别人",
        "contact_phone": "13957700000",
        "loss_reason": "lost",
        "loss_date": "2026-12-01",
        "loss_place": "",
        "amount_cny": "12.5",
        "children": "2",
    }
    current = {"name": "林秀英", "contact_phone": "13957700000", "loss_place": "松台街道"}
    changes = changed_values(fields, posted, current, locked={"name"})
    assert changes == {
        "loss_reason": "lost",
        "loss_date": "2026-12-01",
        "loss_place": None,
        "amount_cny": 12.5,
        "children": 2,
    }


def test_a_number_that_does_not_parse_is_sent_as_typed_for_the_platform_to_name() -> None:
    fields = form_fields(LOSS_REPORT)
    assert changed_values(fields, {"children": "two"}, {}, locked=set()) == {"children": "two"}


@pytest.mark.parametrize(
    ("where", "kind", "words"),
    [
        ("form.loss_date", "format", "格式不正确，请检查。"),
        ("body.form.contact_phone", "pattern", "格式不正确，请检查。"),
        ("form.loss_reason", "required", "此项必须填写。"),
        ("form.loss_place", "surprise", "填写有误，请检查。"),
    ],
)
def test_a_refused_field_is_told_beside_it_in_words(where: str, kind: str, words: str) -> None:
    name = where.rsplit(".", 1)[1]
    problem = {"errors": [{"field": where, "message": "anything", "type": kind}]}
    assert field_errors(problem) == {name: words}


def test_refusals_of_no_field_are_left_to_the_form_alert() -> None:
    assert field_errors({"errors": [{"field": "form", "type": "type"}, "odd"]}) == {}
    assert field_errors({}) == {}


def test_the_latest_supplement_notice_is_read_from_the_history() -> None:
    history = [
        {"action": "submit"},
        {
            "action": "request_supplement",
            "note": "请补充丢失日期",
            "detail": {"fields": ["loss_date"], "materials": ["身份证复印件"]},
        },
        {"action": "claim"},
    ]
    assert supplement_notice(history) == {
        "note": "请补充丢失日期",
        "fields": ["loss_date"],
        "materials": ["身份证复印件"],
    }
    assert supplement_notice([{"action": "submit"}]) is None


def test_progress_marks_the_milestones_a_status_has_reached() -> None:
    milestones = [("提交", True), ("受理", False), ("审查", False), ("办结", False)]
    assert progress("submitted") == milestones
    assert [reached for _, reached in progress("completed")] == [True, True, True, True]
    assert [reached for _, reached in progress("accepted")] == [True, True, False, False]


def test_the_demo_capture_is_its_files_template_and_nothing_without_one(tmp_path: Path) -> None:
    capture = tmp_path / "capture.json"
    capture.write_text(json.dumps({"template": [0.5, 1, -0.25]}), encoding="utf-8")
    assert demo_capture(capture) == [0.5, 1.0, -0.25]
    assert demo_capture(None) is None
    capture.write_text(json.dumps({"other": 1}), encoding="utf-8")
    assert demo_capture(capture) is None


def test_an_answer_to_a_notice_sends_each_field_it_names_typed() -> None:
    fields = [item for item in form_fields(LOSS_REPORT) if item.name in ("children", "loss_place")]
    posted = {"children": "3", "loss_place": " ", "other": "x"}
    assert posted_values(fields, posted) == {"children": 3, "loss_place": None}


def test_her_id_number_is_shown_masked_and_other_values_as_they_are() -> None:
    number = form_fields({"properties": {"id": {"type": "string", "x-applicant": "id_number"}}})
    assert shown(number[0], "330302195203140248") == "3303**********0248"
    assert shown(form_fields(LOSS_REPORT)[0], "林秀英") == "林秀英"
    assert shown(form_fields(LOSS_REPORT)[1], None) == ""
