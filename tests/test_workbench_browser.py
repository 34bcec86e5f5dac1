"""The staff workbench in a real browser at a desk's size (1280 × 800), through the gateway to
the real processes: the fund centre's handler takes a housing provident-fund withdrawal from the
queue to a proposed approval (claim, the one-time supplement notice, which the applicant
answers through the API, acceptance, review), and a supervisor who did not review it confirms
it; then the supervision page's charts and tables; a bad review called back, rectified and
appealed by Lucheng's bureau, the appeal decided by Wenzhou's; and a citizen's password refused
at the staff sign-in, its session ended. Each page passes axe-core's WCAG 2.1 A/AA rules, does
not scroll sideways and keeps to the page-weight budget (``check_page``)."""

import uuid
from typing import Any

import httpx
import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from onevisit_dev.answers import bearer, invitation_to_rate, sms_code
from onevisit_dev.browser import check_page
from onevisit_dev.callers import (
    Citizen,
    Person,
    create_staff,
    face_verified_citizen,
    register_citizen,
)
from onevisit_dev.platform import Platform

pytestmark = pytest.mark.e2e

FUND_CENTRE = "330300-housing_provident_fund"
WITHDRAWAL = "housing_provident_fund.withdrawal"
#: From the synthetic population (data-exchange-svc/data/population.csv), in no other story: a
#: Lucheng resident, whose withdrawal Wenzhou's fund centre handles.
APPLICANT = ("林华", "330302194405036153")
WAIT_SECONDS = 20
#: Her scan of her tenancy agreement: a PNG of one grey pixel.
SCAN_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010800000000"
    "3a7e9b550000000a49444154789c636800000082008177cd72b60000000049454e44ae426082"
)


def _applies(gateway: httpx.Client, platform: Platform, face_of: Any) -> tuple[str, str]:
    """She registers, binds her real name by a face match and files a withdrawal: her token
    and the case number."""
    name, id_number = APPLICANT
    person = Person(name, id_number, face_of(id_number))
    _, token = face_verified_citizen(gateway, platform.config.var_dir, person)
    filed = gateway.post(
        "/cases/v1/cases",
        json={
            "item_code": WITHDRAWAL,
            "form": {
                "withdrawal_reason": "rent",
                "amount_cny": "80000",
                "bank_account": "6222020200112233445",
                "contact_phone": "13957700000",
            },
        },
        headers={**bearer(token), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert filed.status_code == 201, filed.text
    case_no: str = filed.json()["case_no"]
    scanned = gateway.post(
        f"/cases/v1/cases/{case_no}/materials",
        data={"name": "租赁合同"},
        files={"file": ("scan.png", SCAN_PNG, "image/png")},
        headers=bearer(token),
    )
    assert scanned.status_code == 201, scanned.text
    return token, case_no


def _supplies(gateway: httpx.Client, token: str, case_no: str) -> None:
    """She answers the notice: both fields it named, at the version she read."""
    path = f"/cases/v1/cases/{case_no}"
    mine = gateway.get(path, headers=bearer(token))
    assert mine.status_code == 200, mine.text
    assert mine.json()["history"][-1]["detail"]["fields"] == ["amount_cny", "withdrawal_reason"]
    supplied = gateway.post(
        f"{path}/transitions",
        json={
            "action": "supplement",
            "form": {"withdrawal_reason": "retirement", "amount_cny": "52000"},
        },
        headers={**bearer(token), "If-Match": mine.headers["etag"]},
    )
    assert supplied.status_code == 200, supplied.text


def _signs_in(
    driver: WebDriver, platform: Platform, staff: Citizen, page: str, *, by_code: bool = False
) -> None:
    """By password, or by the code texted to the phone (the way left where the platform no
    longer takes passwords)."""
    driver.get(f"{platform.config.gateway_url}/workbench/")
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.find_elements(By.ID, "phone"))
    check_page(driver, f"workbench-{page}")
    if by_code:
        driver.find_element(By.ID, "sms-phone").send_keys(staff.phone)
        driver.find_element(By.CSS_SELECTOR, 'form[action$="/sign-in/code"] button').click()
        WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.find_elements(By.ID, "code"))
        check_page(driver, f"workbench-{page}-code")
        code = sms_code(platform.config.var_dir, staff.phone)
        driver.find_element(By.ID, "code").send_keys(code)
    else:
        driver.find_element(By.ID, "phone").send_keys(staff.phone)
        driver.find_element(By.ID, "password").send_keys(staff.password)
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.find_elements(By.ID, "cases-heading"))


def _said(driver: WebDriver, text: str) -> None:
    """Waits for the page's notice of a step done to say ``text``."""

    def notice(d: WebDriver) -> bool:
        # Found and read in one script: the page may be replaced between a find and a read
        # (the browser then answers "stale element" or "node ... does not belong to the
        # document"), and the notice found may be the previous step's until it is.
        said = d.execute_script(
            "const notice = document.querySelector('p.notice[role=status]');"
            "return notice ? notice.innerText.trim() : null;"
        )
        return bool(said == text)

    try:
        WebDriverWait(driver, WAIT_SECONDS).until(notice)
    except TimeoutException:
        main = driver.find_element(By.TAG_NAME, "main").text
        raise AssertionError(f"the page never said {text!r}: {main}") from None


def _status(driver: WebDriver) -> str:
    status: str = driver.find_element(By.ID, "case-status").text
    return status


def _step(driver: WebDriver, action: str, done: str, *, note: str | None = None) -> None:
    if note is not None:
        driver.find_element(By.ID, f"note-{action}").send_keys(note)
    driver.find_element(By.ID, f"do-{action}").click()
    _said(driver, done)


def test_a_withdrawal_is_handled_on_the_workbench_from_claim_to_approval(
    platform: Platform, desk_browser: WebDriver, platform_admin: str, face_of: Any
) -> None:
    driver = desk_browser
    with platform.client() as gateway:
        applicant, case_no = _applies(gateway, platform, face_of)
        handler = create_staff(gateway, platform_admin, FUND_CENTRE, ["handler"])
        supervisor = create_staff(gateway, platform_admin, FUND_CENTRE, ["supervisor"])

        # The handler finds it in the queue, nobody's yet, and opens it.
        _signs_in(driver, platform, handler, "sign-in")
        Select(driver.find_element(By.ID, "assignee")).select_by_value("unassigned")
        driver.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
        WebDriverWait(driver, WAIT_SECONDS).until(lambda d: "assignee=unassigned" in d.current_url)
        check_page(driver, "workbench-queue")
        row = driver.find_element(By.LINK_TEXT, case_no).find_element(By.XPATH, "./ancestor::tr")
        assert "住房公积金提取" in row.text
        assert "正常" in row.text  # the deadline's colour, in words too
        driver.find_element(By.LINK_TEXT, case_no).click()
        WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.find_elements(By.ID, "do-claim"))
        assert _status(driver) == "待受理"
        check_page(driver, "workbench-case")
        # Her scan opens from the page, read with the handler's own token.
        scan = driver.find_element(By.LINK_TEXT, "租赁合同").get_attribute("href")
        fetched = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[0]).then(r => done(`${r.status} ${r.headers.get('content-type')}`));",
            scan,
        )
        assert fetched == "200 image/png"

        _step(driver, "claim", "已认领，您现在可以办理此件。")
        check_page(driver, "workbench-claimed")

        # One notice naming both fields to correct; the clock stops while she supplies them.
        driver.find_element(By.ID, "fields-withdrawal_reason").click()
        driver.find_element(By.ID, "fields-amount_cny").click()
        _step(
            driver,
            "request_supplement",
            "已一次性告知补正。",
            note="退休提取请选择“离休、退休”；提取金额超出账户余额",
        )
        assert _status(driver) == "待补正"
        assert (
            "暂停计时"
            in driver.find_element(By.ID, "facts-heading").find_element(By.XPATH, "..").text
        )
        check_page(driver, "workbench-supplement-requested")
        _supplies(gateway, applicant, case_no)

        # Her supplement changed the case since the page was read: a step sent from it is
        # refused (412), and the page says so and shows the case as it is now.
        driver.find_element(By.ID, "do-release").click()
        WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.find_elements(By.ID, "do-accept"))
        changed = driver.find_element(By.CSS_SELECTOR, "main > p[role=alert]").text
        assert changed == "办件刚刚有了变化，以下是最新状态，请核对后再操作。"
        assert _status(driver) == "待受理"
        check_page(driver, "workbench-case-changed")
        _step(driver, "accept", "已受理。")
        _step(driver, "start_review", "已开始审查。")
        check_page(driver, "workbench-in-review")
        # Two people decide this item: the reviewer may only propose.
        assert not driver.find_elements(By.ID, "do-approve")
        _step(driver, "propose_approval", "已提请准予。", note="符合退休提取条件")
        assert _status(driver) == "待确认准予"
        check_page(driver, "workbench-approval-proposed")

        # She signs out; the supervisor, in a fresh sign-in, finds it waiting for a decision.
        driver.find_element(By.CSS_SELECTOR, "form.sign-out button").click()
        WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.find_elements(By.ID, "phone"))
        _signs_in(driver, platform, supervisor, "sign-in-again", by_code=True)
        driver.find_element(By.ID, "status-approval_pending").click()
        driver.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
        WebDriverWait(driver, WAIT_SECONDS).until(
            lambda d: "status=approval_pending" in d.current_url
        )
        check_page(driver, "workbench-queue-approval-pending")
        driver.find_element(By.LINK_TEXT, case_no).click()
        WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.find_elements(By.ID, "do-confirm"))
        check_page(driver, "workbench-decision")
        _step(driver, "confirm", "已确认决定。", note="同意")
        assert _status(driver) == "已准予"
        check_page(driver, "workbench-approved")
        # A desk's page, and still no sideways scrolling on a phone's width.
        driver.set_window_size(360, 640)
        check_page(driver, "workbench-approved-narrow")
        driver.get(f"{platform.config.gateway_url}/workbench/")
        WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.find_elements(By.ID, "cases-heading"))
        check_page(driver, "workbench-queue-narrow")

        final = gateway.get(f"/cases/v1/cases/{case_no}", headers=bearer(applicant)).json()
    assert final["status"] == "approved"
    assert [entry["action"] for entry in final["history"]] == [
        "submit",
        "claim",
        "request_supplement",
        "supplement",
        "accept",
        "start_review",
        "propose_approval",
        "confirm",
    ]


def test_the_supervision_page_shows_its_figures_as_charts_and_tables(
    platform: Platform, desk_browser: WebDriver, platform_admin: str, face_of: Any
) -> None:
    driver = desk_browser
    with platform.client() as gateway:
        _applies(gateway, platform, face_of)  # the fund centre has a case this month, at least
        supervisor = create_staff(gateway, platform_admin, FUND_CENTRE, ["supervisor"])
    _signs_in(driver, platform, supervisor, "sign-in-supervisor")
    driver.get(f"{platform.config.gateway_url}/workbench/supervision")
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.find_elements(By.ID, "group_by"))

    charts = driver.find_elements(By.CSS_SELECTOR, "svg.chart[role=img]")
    names = [
        chart.find_element(By.TAG_NAME, "title").get_attribute("textContent") for chart in charts
    ]
    assert names == ["按时办结率", "在办超期件数", "满意率（好差评）"]
    table = driver.find_element(By.CSS_SELECTOR, "[aria-labelledby=timeliness-heading] table")
    assert "温州市住房公积金管理中心" in table.text
    check_page(driver, "workbench-supervision")

    # By region: the county rows of Wenzhou, the same charts over them.
    Select(driver.find_element(By.ID, "group_by")).select_by_value("region")
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: "group_by=region" in d.current_url)
    table = driver.find_element(By.CSS_SELECTOR, "[aria-labelledby=timeliness-heading] table")
    assert "按地区" in table.text
    assert "温州市" in table.text  # the fund centre's own region, by its name
    check_page(driver, "workbench-supervision-regions")

    # A desk's page, and still no sideways scrolling on a phone's width.
    driver.set_window_size(360, 640)
    check_page(driver, "workbench-supervision-narrow")


#: Lucheng's public security bureau, which handles her loss report at once, and the tier above,
#: which decides the bureau's appeals.
BUREAU = "330302-public_security"
CITY_BUREAU = "330300-public_security"
LOSS_REPORT = "public_security.id_card_loss_report"
#: From the synthetic population, in no other story: a Lucheng resident.
REVIEWER = ("王嘉", "330302197103315302")


def _rates_badly(gateway: httpx.Client, platform: Platform, face_of: Any) -> str:
    """She files a loss report, completed at once, and gives it a very dissatisfied review:
    its case number."""
    name, id_number = REVIEWER
    person = Person(name, id_number, face_of(id_number))
    _, token = face_verified_citizen(gateway, platform.config.var_dir, person)
    filed = gateway.post(
        "/cases/v1/cases",
        json={
            "item_code": LOSS_REPORT,
            "form": {
                "loss_reason": "lost",
                "loss_date": "2026-12-01",
                "contact_phone": "13957700002",
            },
        },
        headers={**bearer(token), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert filed.status_code == 201, filed.text
    case_no: str = filed.json()["case_no"]
    assert invitation_to_rate(gateway, token, case_no) is not None
    rated = gateway.post(
        "/ratings/v1/ratings",
        json={"case_no": case_no, "level": 1, "comment": "窗口让我跑了两趟", "channel": "app"},
        headers=bearer(token),
    )
    assert rated.status_code == 201, rated.text
    return case_no


def test_a_bad_review_is_called_back_rectified_and_appealed_on_the_workbench(
    platform: Platform, desk_browser: WebDriver, platform_admin: str, face_of: Any
) -> None:
    driver = desk_browser
    with platform.client() as gateway:
        case_no = _rates_badly(gateway, platform, face_of)
        handler = create_staff(gateway, platform_admin, BUREAU, ["handler"])
        decider = create_staff(gateway, platform_admin, CITY_BUREAU, ["supervisor"])

    # The bureau's handler finds it among the rectifications, calls her back, reports the change.
    _signs_in(driver, platform, handler, "sign-in-rectifications")
    driver.find_element(By.LINK_TEXT, "差评整改").click()
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.find_elements(By.ID, "status"))
    Select(driver.find_element(By.ID, "status")).select_by_value("awaiting_call_back")
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.find_elements(By.LINK_TEXT, case_no))
    check_page(driver, "workbench-rectifications")
    driver.find_element(By.LINK_TEXT, case_no).click()
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.find_elements(By.ID, "call-back-note"))
    check_page(driver, "workbench-rectification")
    driver.find_element(By.ID, "call-back-note").send_keys("已电话联系申请人并致歉")
    driver.find_element(By.ID, "do-call-back").click()
    _said(driver, "已记录回访。")
    driver.find_element(By.ID, "rectification-note").send_keys("高峰时段增开一个窗口")
    driver.find_element(By.ID, "do-rectification").click()
    _said(driver, "已报告整改情况，群众将收到再评价邀请。")

    # And appeals the review as mistaken; the city's bureau decides.
    driver.find_element(By.ID, "reasons").send_keys("申请人评价的是另一部门的事项，本局当日已办结")
    driver.find_element(By.ID, "evidence").send_keys("窗口录像 第3号窗口")
    driver.find_element(By.ID, "do-appeal").click()
    _said(driver, "已提交申诉，由上级部门审核人裁定。")
    check_page(driver, "workbench-rectification-appealed")
    driver.find_element(By.CSS_SELECTOR, "form.sign-out button").click()
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.find_elements(By.ID, "phone"))

    _signs_in(driver, platform, decider, "sign-in-decider")
    driver.find_element(By.LINK_TEXT, "差评申诉").click()
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.find_elements(By.LINK_TEXT, case_no))
    check_page(driver, "workbench-appeals")
    driver.find_element(By.LINK_TEXT, case_no).click()
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.find_elements(By.ID, "outcome-upheld"))
    check_page(driver, "workbench-appeal")
    driver.find_element(By.ID, "outcome-upheld").click()
    driver.find_element(By.ID, "decision-note").send_keys("录像显示当日已办结")
    driver.find_element(By.ID, "do-decide").click()
    _said(driver, "已作出裁定。")
    assert driver.find_element(By.ID, "appeal-status").text == "申诉成立"
    check_page(driver, "workbench-appeal-decided")


def test_a_citizens_password_opens_no_workbench_and_its_session_is_ended(
    platform: Platform, desk_browser: WebDriver
) -> None:
    driver = desk_browser
    with platform.client() as gateway:
        citizen = register_citizen(gateway, platform.config.var_dir)
        token = citizen.sign_in(gateway)

        driver.get(f"{platform.config.gateway_url}/workbench/sign-in")
        WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.find_elements(By.ID, "phone"))
        driver.find_element(By.ID, "phone").send_keys(citizen.phone)
        driver.find_element(By.ID, "password").send_keys(citizen.password)
        driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
        WebDriverWait(driver, WAIT_SECONDS).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "p[role=alert]")
        )
        refusal = driver.find_element(By.CSS_SELECTOR, "p[role=alert]").text
        assert refusal == "请使用工作人员账号登录。"
        check_page(driver, "workbench-sign-in-refused")

        # The sign-in the page server was handed is ended at once: hers alone remains.
        sessions = gateway.get("/identity/v1/me/sessions", headers=bearer(token))
        assert sessions.status_code == 200, sessions.text
        assert [s["current"] for s in sessions.json()["sessions"]] == [True]
