"""The workbench's forms as the API's bodies: what each step sends, what is refused before it
is sent, which claim steps are shown, and the form's rows with their titles and provenance."""

import datetime as dt

import pytest
from starlette.datastructures import FormData

from case_svc.workflow.state_machine import CaseStatus
from onevisit_web.workbench.cases import (
    StepRefused,
    form_rows,
    offered_steps,
    transition_body,
)
from onevisit_web.workbench.labels import ACTIONS, QUEUE_STATUSES, local_time, percent, words
from onevisit_web.workbench.ratings import FormIncomplete, beijing_instant, evidence_of
from onevisit_web.workbench.staff import StaffMember


def test_a_supplement_notice_names_the_fields_and_materials_picked() -> None:
    form = FormData(
        [
            ("fields", "withdrawal_reason"),
            ("fields", "amount_cny"),
            ("materials", "退休证明\n\n 银行卡 \n"),
            ("note", " 请补正 "),
        ]
    )

    body = transition_body("request_supplement", form, issues_certificate=False)

    assert body == {
        "action": "request_supplement",
        "note": "请补正",
        "notice": {
            "fields": ["withdrawal_reason", "amount_cny"],
            "materials": ["退休证明", "银行卡"],
        },
    }


def test_a_notice_that_names_nothing_is_refused_before_it_is_sent() -> None:
    with pytest.raises(StepRefused):
        transition_body("request_supplement", FormData([]), issues_certificate=False)


def test_a_step_that_needs_a_reason_is_refused_without_one() -> None:
    with pytest.raises(StepRefused):
        transition_body("propose_denial", FormData([("note", "  ")]), issues_certificate=False)
    assert transition_body("accept", FormData([]), issues_certificate=False) == {"action": "accept"}


def test_steps_carry_what_they_need() -> None:
    suspension = FormData(
        [("note", "专家评审"), ("procedure", "expert_review"), ("expected_end", "2026-12-20")]
    )
    assert transition_body("suspend", suspension, issues_certificate=False)["suspension"] == {
        "procedure": "expert_review",
        "expected_end": "2026-12-20",
    }
    extension = FormData([("note", "情况复杂"), ("working_days", "5")])
    assert transition_body("extend", extension, issues_certificate=False)["extension"] == {
        "working_days": 5
    }
    with pytest.raises(StepRefused):
        transition_body("extend", FormData([("note", "x")]), issues_certificate=False)
    certificate = FormData([("certificate_number", "N1"), ("valid_from", "2026-12-08")])
    assert transition_body("deliver", certificate, issues_certificate=True)["certificate"] == {
        "number": "N1",
        "valid_from": "2026-12-08",
        "valid_until": None,
    }
    assert "certificate" not in transition_body("deliver", certificate, issues_certificate=False)


def test_an_action_the_workbench_does_not_offer_is_refused() -> None:
    with pytest.raises(StepRefused):
        transition_body("supplement", FormData([]), issues_certificate=False)


def test_every_action_of_the_table_has_words_and_a_known_note_rule() -> None:
    for action in ACTIONS.values():
        assert action.label
        assert action.note in (None, "optional", "required")
        assert action.carries in (
            None,
            "notice",
            "transfer",
            "suspension",
            "extension",
            "certificate",
        )


HANDLER = StaffMember("h-1", "330300-housing_provident_fund", frozenset({"handler"}))
SUPERVISOR = StaffMember("s-1", "330300-housing_provident_fund", frozenset({"supervisor"}))


def test_a_handler_is_offered_the_claim_of_an_open_case_she_does_not_hold() -> None:
    nobodys = {"clock": "running", "assignee_id": None}
    hers = {"clock": "running", "assignee_id": "h-1"}
    ended = {"clock": "stopped", "assignee_id": None}

    assert offered_steps(nobodys, HANDLER) == {"claim": True, "release": False, "reassign": False}
    assert offered_steps(hers, HANDLER) == {"claim": False, "release": True, "reassign": False}
    assert offered_steps(ended, HANDLER) == {"claim": False, "release": False, "reassign": False}
    assert offered_steps(nobodys, SUPERVISOR)["reassign"] is True


def test_the_forms_rows_carry_titles_choices_and_provenance() -> None:
    case = {
        "form": {"name": "林华", "withdrawal_reason": "rent", "amount_cny": "80000"},
        "form_provenance": {"amount_cny": {"source": "data_resource", "resource": "fund"}},
    }
    item = {
        "form_schema": {
            "properties": {
                "name": {"title": "姓名", "x-applicant": "name"},
                "withdrawal_reason": {
                    "title": "提取原因",
                    "oneOf": [{"const": "rent", "title": "租赁住房"}],
                },
            }
        }
    }

    rows = {row["name"]: row for row in form_rows(case, item)}

    assert rows["name"]["identity"] is True
    assert (rows["withdrawal_reason"]["title"], rows["withdrawal_reason"]["value"]) == (
        "提取原因",
        "租赁住房",
    )
    assert rows["amount_cny"]["title"] == "amount_cny"  # no schema: its own name
    assert rows["amount_cny"]["provenance"]["source"] == "data_resource"
    assert form_rows(case, None)[0]["title"] == "name"


def test_times_are_shown_in_beijing_time_and_rates_as_percentages() -> None:
    assert local_time("2026-12-08T15:59:59Z") == "2026-12-08 23:59"
    assert local_time(None) == "—"
    assert percent(0.9375) == "93.8%"
    assert percent(None) == "—"


def test_a_call_back_time_is_typed_in_beijing_time_or_left_for_now() -> None:
    assert beijing_instant("2026-12-08T10:30") == "2026-12-08T10:30:00+08:00"
    now = dt.datetime(2026, 12, 8, 3, 0, tzinfo=dt.UTC)
    assert beijing_instant("", now) == "2026-12-08T03:00:00+00:00"
    with pytest.raises(FormIncomplete):
        beijing_instant("yesterday")
    assert evidence_of("录像\n\n 回执 ") == ["录像", "回执"]


def test_every_status_of_the_workflow_has_words() -> None:
    assert set(words("case_statuses")) == {status.value for status in CaseStatus}
    assert set(QUEUE_STATUSES) <= set(words("case_statuses"))
