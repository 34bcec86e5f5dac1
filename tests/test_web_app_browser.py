"""The citizen's app (H5) in a real browser, at a phone's size (360 × 640), through the gateway
to the real processes: the platform's own story in the elder mode (长辈版) — she signs in with a
code texted to her phone, passes the real-name check and the face step, files the loss report of
her identity card, finds it among her cases and rates it — with the keyboard where a person
would use it; and, in the standard mode, a resident who finds a service, reads who handles it
for her and how well, and checks who read her data. Every page passes axe-core's WCAG A/AA
rules, fits the phone's width and keeps to the page-weight budget (``check_page``).

The elder journey is the demo citizen's (林秀英): the face step's stand-in for the camera is the
demo capture of her face (``WEB_DEMO_FACE_CAPTURE``), which matches no one else. Her face match
moves her real name to this test's account, as it would to a new phone's; ``test_journey.py``,
whose account held it, has finished by then (modules run in name order, and the contract run,
which binds her number last of all, after every story: ``tests/conftest.py``)."""

import datetime as dt
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as visible
from selenium.webdriver.support.ui import Select, WebDriverWait

from onevisit_dev.answers import bearer, sms_code
from onevisit_dev.browser import check_page
from onevisit_dev.callers import (
    Person,
    claim_real_name,
    create_staff,
    face_verified_citizen,
    new_phone,
    register_citizen,
    verify_face,
)
from onevisit_dev.platform import Platform

pytestmark = pytest.mark.e2e

DEMO_NAME, DEMO_ID_NUMBER = "林秀英", "330302195203140248"
#: From the synthetic population (data-exchange-svc/data/population.csv), in no other story: a
#: Lucheng resident.
RESIDENT = ("范敏琳", "330302194802277663")
LOSS_REPORT = "public_security.id_card_loss_report"
#: Long enough for a step that calls several services (the face match reads the registry).
STEP_SECONDS = 30


class _Waiting:
    """``WebDriverWait`` whose timeout says where the browser is and what the page alerts."""

    def __init__(self, browser: WebDriver) -> None:
        self.browser = browser

    def until(self, condition: Callable[[WebDriver], Any]) -> Any:
        try:
            # A page replaced while the condition reads it is read again on the next poll
            # (the browser says "stale element", or "node ... does not belong to the document").
            waiting = WebDriverWait(
                self.browser, STEP_SECONDS, ignored_exceptions=(WebDriverException,)
            )
            return waiting.until(condition)
        except TimeoutException as exc:
            alerts = [
                (element.get_attribute("id"), element.text, element.get_attribute("data-code"))
                for element in self.browser.find_elements(By.CSS_SELECTOR, '[role="alert"]')
            ]
            raise AssertionError(f"waited at {self.browser.current_url}: {alerts}") from exc


def _wait(browser: WebDriver) -> _Waiting:
    return _Waiting(browser)


def _on_page(browser: WebDriver, path: str) -> None:
    """Waits until the browser shows the page at ``path`` (any query) with its heading."""
    _wait(browser).until(
        lambda d: d.current_url.split("?")[0].endswith(path) and d.find_elements(By.TAG_NAME, "h1")
    )


def _press(element: WebElement) -> None:
    """A button or link pressed from the keyboard: focused, then Enter."""
    element.send_keys(Keys.ENTER)


def _type(browser: WebDriver, element_id: str, text: str) -> WebElement:
    element = browser.find_element(By.ID, element_id)
    element.click()
    element.send_keys(text)
    return element


def _texted_code(platform: Platform, phone: str) -> str:
    """The code the platform texted her (its development sender writes the texts to a file)."""
    deadline = time.monotonic() + STEP_SECONDS
    while True:
        try:
            return sms_code(platform.config.var_dir, phone)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _reads_aloud(browser: WebDriver, target: str) -> None:
    """The step's 朗读 button beside its instruction reads it (speak.js marks the page)."""
    button = _wait(browser).until(
        visible.element_to_be_clickable((By.CSS_SELECTOR, f'button[data-speak="{target}"]'))
    )
    button.send_keys(Keys.ENTER)
    _wait(browser).until(
        lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("data-spoken") == target
    )


def _every_step_reads_aloud(browser: WebDriver) -> None:
    """The page's instruction has an id and a read-aloud button naming it."""
    buttons = browser.find_elements(By.CSS_SELECTOR, "button[data-speak]")
    assert buttons, f"no read-aloud button on {browser.current_url}"
    for button in buttons:
        assert browser.find_elements(By.ID, button.get_attribute("data-speak") or "")


def test_the_elder_files_her_loss_report_and_rates_it_in_the_elder_mode(
    platform: Platform, browser: WebDriver
) -> None:
    app = f"{platform.config.gateway_url}/app"
    browser.get(f"{app}/elder?on=1&next=/app/")

    # Signed out, the elder mode's home sends her to sign in: by a texted code alone.
    _on_page(browser, "/app/sign-in")
    assert "elder" in (browser.find_element(By.TAG_NAME, "html").get_attribute("class") or "")
    assert not browser.find_elements(By.ID, "password")
    check_page(browser, "app-elder-sign-in")
    _every_step_reads_aloud(browser)
    _reads_aloud(browser, "instruction")
    phone = new_phone("139")
    _type(browser, "phone", phone).send_keys(Keys.ENTER)
    _wait(browser).until(lambda d: d.find_elements(By.ID, "code"))
    check_page(browser, "app-elder-sign-in-code")
    _type(browser, "code", _texted_code(platform, phone)).send_keys(Keys.ENTER)

    # Her home: the first big button is the loss report.
    _on_page(browser, "/app/")
    check_page(browser, "app-elder-home")
    _every_step_reads_aloud(browser)
    first = browser.find_elements(By.CSS_SELECTOR, ".big-tasks a")[0]
    assert first.get_attribute("id") == "loss-report"
    _press(first)

    # It needs level 3: the real-name check, the face step, and back.
    _on_page(browser, "/app/verify/real-name")
    check_page(browser, "app-elder-real-name")
    _every_step_reads_aloud(browser)
    _type(browser, "name", DEMO_NAME)
    _type(browser, "id_number", DEMO_ID_NUMBER).send_keys(Keys.ENTER)

    _on_page(browser, "/app/verify/face")
    assert "以合成人物的演示采集代替摄像头" in browser.find_element(By.ID, "demo-capture").text
    check_page(browser, "app-elder-face")
    _every_step_reads_aloud(browser)
    _press(browser.find_element(By.ID, "start-face"))

    # Her draft: first the one consent that fills what the registry holds, alone on its screen.
    _wait(browser).until(lambda d: d.find_elements(By.ID, "give-consent"))
    assert "/app/drafts/" in browser.current_url
    assert not browser.find_elements(By.ID, "submit-application")
    check_page(browser, "app-elder-consent")
    _every_step_reads_aloud(browser)
    _press(browser.find_element(By.ID, "give-consent"))

    # Then the form: her identity locked, her address and phone from the registries, the rest
    # hers to choose.
    _wait(browser).until(lambda d: d.find_elements(By.ID, "submit-application"))
    assert DEMO_NAME in browser.find_element(By.ID, "field-name").text
    assert "来自您的实名认证" in browser.find_element(By.ID, "field-name").text
    assert browser.find_element(By.ID, "f-registered_address").get_attribute("value")
    address_label = browser.find_element(By.CSS_SELECTOR, "label[for=f-registered_address]")
    assert "来自政府部门数据共享" in address_label.text
    check_page(browser, "app-elder-form")
    _every_step_reads_aloud(browser)
    # Her phone too, from the registry of contact details: nothing for her to type there.
    assert browser.find_element(By.ID, "f-contact_phone").get_attribute("value")
    Select(browser.find_element(By.ID, "f-loss_reason")).select_by_visible_text("遗失")
    # A date input's own picker is not typed into the same way in every locale: set its value.
    browser.execute_script(
        "arguments[0].value = '2026-12-01'", browser.find_element(By.ID, "f-loss_date")
    )
    _press(browser.find_element(By.ID, "submit-application"))

    # Filed and completed at once (an instant item): her case, and the way to rate it.
    _wait(browser).until(lambda d: d.find_elements(By.ID, "case-no"))
    case_no = browser.find_element(By.ID, "case-no").text
    assert case_no.startswith("330302-")
    assert browser.find_element(By.ID, "case-status").text == "已办结"
    check_page(browser, "app-elder-case")
    _every_step_reads_aloud(browser)

    _press(browser.find_element(By.LINK_TEXT, "返回我的办件"))
    _on_page(browser, "/app/cases")
    assert case_no in browser.find_element(By.ID, "case-list").text
    check_page(browser, "app-elder-cases")
    _press(browser.find_element(By.CSS_SELECTOR, f'a[href="/app/cases/{case_no}"]'))

    _wait(browser).until(lambda d: d.find_elements(By.ID, "rate"))
    _press(browser.find_element(By.ID, "rate"))
    _on_page(browser, f"/app/cases/{case_no}/rate")
    check_page(browser, "app-elder-rate")
    _every_step_reads_aloud(browser)
    # One screen: her level (非常满意 first, chosen already), then 提交评价.
    very_satisfied = browser.find_element(By.ID, "level-5")
    assert very_satisfied.is_selected()
    _press(browser.find_element(By.ID, "submit-rating"))

    _on_page(browser, f"/app/cases/{case_no}/rated")
    check_page(browser, "app-elder-rated")
    _every_step_reads_aloud(browser)


def test_a_resident_finds_a_service_and_checks_who_read_her_data(
    platform: Platform, browser: WebDriver, face_of: Callable[[str], Any]
) -> None:
    name, id_number = RESIDENT
    with platform.client() as gateway:
        citizen = register_citizen(gateway, platform.config.var_dir)
        token = citizen.sign_in(gateway)
        person = Person(name, id_number, face_of(id_number))
        claim_real_name(gateway, token, person)
        verify_face(gateway, token, person)
    app = f"{platform.config.gateway_url}/app"
    browser.get(f"{app}/elder?on=0&next=/app/")

    # The standard mode offers her password too.
    _on_page(browser, "/app/sign-in")
    browser.find_element(By.CSS_SELECTOR, "details summary").send_keys(Keys.ENTER)
    _type(browser, "password-phone", citizen.phone)
    _type(browser, "password", citizen.password).send_keys(Keys.ENTER)
    _on_page(browser, "/app/")
    check_page(browser, "app-home")

    _press(browser.find_element(By.LINK_TEXT, "查找服务"))
    _on_page(browser, "/app/search")
    _type(browser, "q", "身份证丢了").send_keys(Keys.ENTER)
    _wait(browser).until(lambda d: d.find_elements(By.ID, "results"))
    check_page(browser, "app-search")
    _press(browser.find_element(By.CSS_SELECTOR, f'a[href="/app/items/{LOSS_REPORT}"]'))

    # The item: what it asks, and who handles it for her region, with its live figures.
    _on_page(browser, f"/app/items/{LOSS_REPORT}")
    assert browser.find_element(By.ID, "handler-name").text == "温州市公安局鹿城区分局"
    assert "满意率" in browser.find_element(By.ID, "handler-quality").text
    check_page(browser, "app-item")

    # Who read her data: the real-name check and the face match, each receipt checked.
    browser.get(f"{app}/access-log")
    _on_page(browser, "/app/access-log")
    entries = browser.find_elements(By.CSS_SELECTOR, "#access-log > li")
    assert entries
    receipts = [entry.find_element(By.CSS_SELECTOR, ".receipt").text for entry in entries]
    assert set(receipts) == {"已验证"}
    check_page(browser, "app-access-log")

    browser.get(f"{app}/inbox")
    _on_page(browser, "/app/inbox")
    check_page(browser, "app-inbox")

    # Her loss report, its form sent twice at once (a double tap): one case, shown to both.
    browser.get(f"{app}/apply/{LOSS_REPORT}")
    _wait(browser).until(lambda d: d.find_elements(By.ID, "submit-application"))
    assert browser.find_elements(By.ID, "give-consent"), "the standard mode shows the consent"
    check_page(browser, "app-form")
    Select(browser.find_element(By.ID, "f-loss_reason")).select_by_value("lost")
    browser.execute_script(
        "arguments[0].value = '2026-12-02'", browser.find_element(By.ID, "f-loss_date")
    )
    browser.find_element(By.ID, "f-contact_phone").clear()
    _type(browser, "f-contact_phone", citizen.phone)
    posted = _submitted_twice_at_once(browser, platform.config.gateway_url)
    assert len(posted) == 1, f"two submits answered {posted}"
    (case_page,) = posted
    browser.get(f"{platform.config.gateway_url}{case_page}")
    _wait(browser).until(lambda d: d.find_elements(By.ID, "case-no"))
    assert browser.find_element(By.ID, "case-status").text == "已办结"


def _submitted_twice_at_once(browser: WebDriver, gateway_url: str) -> set[str]:
    """The application form as the browser would post it, posted twice at the same moment with
    her sign-in's cookie: where each answer sends her."""
    form = browser.find_element(By.CSS_SELECTOR, "form[action$='/submission']")
    action = form.get_attribute("action") or ""
    fields: list[list[str]] = browser.execute_script(
        "return Array.from(new FormData(arguments[0]).entries())", form
    )
    cookie = browser.get_cookie("ov_app")
    assert cookie is not None

    def submit(_: int) -> str:
        with httpx.Client(base_url=gateway_url, cookies={"ov_app": cookie["value"]}) as client:
            answer = client.post(action, data=dict(fields), timeout=STEP_SECONDS)
        assert answer.status_code == 303, answer.text
        return answer.headers["location"]

    with ThreadPoolExecutor(max_workers=2) as pool:
        return set(pool.map(submit, range(2)))


#: Another resident of the synthetic population in no other story, and Wenzhou's provident fund
#: centre, which reviews a withdrawal (and may ask once for more).
RETIRED_RESIDENT = ("周祥峰", "330302193010058353")
FUND_CENTRE = "330300-housing_provident_fund"
WITHDRAWAL = "housing_provident_fund.withdrawal"


def _handler_asks_once(gateway: httpx.Client, token: str, case_no: str, etag: str) -> None:
    """The fund centre's handler claims her case and asks for the amount and reason again."""
    path = f"/cases/v1/cases/{case_no}"
    claimed = gateway.post(f"{path}/claim", headers={**bearer(token), "If-Match": etag})
    assert claimed.status_code == 200, claimed.text
    asked = gateway.post(
        f"{path}/transitions",
        json={
            "action": "request_supplement",
            "note": "退休提取请选择“离休、退休”，并核对提取金额",
            "notice": {"fields": ["withdrawal_reason", "amount_cny"]},
        },
        headers={**bearer(token), "If-Match": claimed.headers["etag"]},
    )
    assert asked.status_code == 200, asked.text


def test_she_answers_the_one_time_notice_and_reads_her_inbox(
    platform: Platform, browser: WebDriver, face_of: Callable[[str], Any], platform_admin: str
) -> None:
    name, id_number = RETIRED_RESIDENT
    with platform.client() as gateway:
        person = Person(name, id_number, face_of(id_number))
        citizen, token = face_verified_citizen(gateway, platform.config.var_dir, person)
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
        case_no = filed.json()["case_no"]
        handler = create_staff(gateway, platform_admin, FUND_CENTRE, ["handler"])
        _handler_asks_once(gateway, handler.sign_in(gateway), case_no, filed.headers["etag"])

    app = f"{platform.config.gateway_url}/app"
    browser.get(f"{app}/elder?on=0&next=/app/cases/{case_no}")
    _on_page(browser, "/app/sign-in")
    browser.find_element(By.CSS_SELECTOR, "details summary").send_keys(Keys.ENTER)
    _type(browser, "password-phone", citizen.phone)
    _type(browser, "password", citizen.password).send_keys(Keys.ENTER)

    # The notice, and a field for each thing it names, on the case as she read it.
    _on_page(browser, f"/app/cases/{case_no}")
    assert browser.find_element(By.ID, "case-status").text == "待补正"
    assert "离休、退休" in browser.find_element(By.ID, "notice").text
    check_page(browser, "app-case-supplement")
    Select(browser.find_element(By.ID, "s-withdrawal_reason")).select_by_value("retirement")
    amount = browser.find_element(By.ID, "s-amount_cny")
    amount.clear()
    amount.send_keys("52000", Keys.ENTER)

    _wait(browser).until(
        lambda d: (
            d.find_element(By.ID, "case-status").text == "已提交"
            and not d.find_elements(By.ID, "s-amount_cny")
        )
    )
    assert "补正材料" in browser.find_element(By.ID, "history").text
    check_page(browser, "app-case-supplied")

    # Her inbox told her it waited on her (case-svc's events reach it shortly): she marks it read.
    def told(driver: WebDriver) -> bool:
        driver.get(f"{app}/inbox")
        return "需要您处理" in driver.find_element(By.ID, "messages").text

    _wait(browser).until(told)
    check_page(browser, "app-inbox-unread")
    # That message, by its id: more of her case's messages may arrive meanwhile.
    message = browser.find_elements(By.CSS_SELECTOR, "#messages li.unread")[0]
    message_id = message.get_attribute("id")
    _press(message.find_element(By.CSS_SELECTOR, "form button"))
    # The inbox again, once the post has answered (the page it leaves is an inbox too).
    _wait(browser).until(
        lambda d: d.execute_script(
            "const message = document.getElementById(arguments[0]);"
            "return message !== null && !message.classList.contains('unread');",
            message_id,
        )
    )
    assert not browser.find_element(By.ID, message_id).find_elements(By.CSS_SELECTOR, "form button")


#: One more resident in no other story, and the bureau that handles her loss report.
UNHAPPY_RESIDENT = ("陈浩荣", "330302193706242298")
LUCHENG_BUREAU = "330302-public_security"


def test_her_bad_review_is_rectified_and_she_rates_the_rectification(
    platform: Platform, browser: WebDriver, face_of: Callable[[str], Any], platform_admin: str
) -> None:
    name, id_number = UNHAPPY_RESIDENT
    with platform.client() as gateway:
        person = Person(name, id_number, face_of(id_number))
        citizen, token = face_verified_citizen(gateway, platform.config.var_dir, person)
        filed = gateway.post(
            "/cases/v1/cases",
            json={
                "item_code": LOSS_REPORT,
                "form": {
                    "loss_reason": "stolen",
                    "loss_date": "2026-12-01",
                    "contact_phone": "13957700002",
                },
            },
            headers={**bearer(token), "Idempotency-Key": str(uuid.uuid4())},
        )
        assert filed.status_code == 201, filed.text
        case_no = filed.json()["case_no"]

    app = f"{platform.config.gateway_url}/app"
    browser.get(f"{app}/elder?on=0&next=/app/cases/{case_no}/rate")
    _on_page(browser, "/app/sign-in")
    browser.find_element(By.CSS_SELECTOR, "details summary").send_keys(Keys.ENTER)
    _type(browser, "password-phone", citizen.phone)
    _type(browser, "password", citizen.password).send_keys(Keys.ENTER)

    # A bad review, with a tag of its level and a comment.
    _on_page(browser, f"/app/cases/{case_no}/rate")
    browser.find_element(By.ID, "level-1").send_keys(Keys.SPACE)
    _press(browser.find_element(By.ID, "choose-level"))
    _wait(browser).until(lambda d: d.find_elements(By.ID, "submit-rating"))
    browser.find_element(By.ID, "tag-repeated_visits").send_keys(Keys.SPACE)
    _type(browser, "comment", "网上说能办，结果还是让我去窗口跑了两趟")
    check_page(browser, "app-rate-bad-review")
    _press(browser.find_element(By.ID, "submit-rating"))
    _on_page(browser, f"/app/cases/{case_no}/rated")

    # The bureau calls her back and reports what it changed.
    with platform.client() as gateway:
        handler = create_staff(gateway, platform_admin, LUCHENG_BUREAU, ["handler"])
        supervisor = create_staff(gateway, platform_admin, LUCHENG_BUREAU, ["supervisor"])
        handler_token, supervisor_token = handler.sign_in(gateway), supervisor.sign_in(gateway)
        queue = gateway.get("/ratings/v1/rectifications", headers=bearer(handler_token)).json()
        (rectification,) = [item for item in queue["items"] if item["case_no"] == case_no]
        path = f"/ratings/v1/rectifications/{rectification['id']}"
        called = gateway.post(
            f"{path}/call-back",
            json={
                "called_back_at": dt.datetime.now(dt.UTC).isoformat(),
                "channel": "phone",
                "note": "已电话回访致歉",
            },
            headers=bearer(handler_token),
        )
        assert called.status_code == 200, called.text
        rectified = gateway.post(
            f"{path}/rectification",
            json={"note": "更正窗口办事指南，挂失业务引导至网上办理"},
            headers=bearer(supervisor_token),
        )
        assert rectified.status_code == 200, rectified.text

    # Hers to rate again: the follow-up, from her list of what waits for her rating.
    follow_up = f'a[href="/app/cases/{case_no}/rate?kind=follow_up"]'

    def invited(driver: WebDriver) -> bool:
        driver.get(f"{app}/ratings")
        return bool(driver.find_elements(By.CSS_SELECTOR, follow_up))

    _wait(browser).until(invited)
    check_page(browser, "app-ratings")
    _press(browser.find_element(By.CSS_SELECTOR, follow_up))
    _on_page(browser, f"/app/cases/{case_no}/rate")
    assert browser.find_element(By.TAG_NAME, "h1").text == "评价整改"
    browser.find_element(By.ID, "level-4").send_keys(Keys.SPACE)
    _press(browser.find_element(By.ID, "choose-level"))
    _wait(browser).until(lambda d: d.find_elements(By.ID, "submit-rating"))
    _press(browser.find_element(By.ID, "submit-rating"))
    _on_page(browser, f"/app/cases/{case_no}/rated")
    check_page(browser, "app-rated-follow-up")
