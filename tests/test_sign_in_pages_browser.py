"""The platform's sign-in pages in a real browser: headless Chromium from Debian's packages
(``chromium``, ``chromium-driver``), driven by Selenium, at a phone's size (360 × 640), through
the gateway to the real processes. A citizen signs in to the demo portal with the keyboard
alone, consents, and is sent back with a code; each page passes axe-core's accessibility rules
(WCAG 2.1 A and AA), does not scroll sideways and keeps to the page-weight budget
(``onevisit_dev.browser``, which also keeps the screenshots)."""

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from onevisit_dev.browser import check_page
from onevisit_dev.callers import register_citizen
from onevisit_dev.platform import PORTAL_CLIENT_ID, PORTAL_REDIRECT_URI, Platform

pytestmark = pytest.mark.e2e


def _authorization_url(platform: Platform) -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    state = secrets.token_urlsafe(8)
    query = {
        "response_type": "code",
        "client_id": PORTAL_CLIENT_ID,
        "redirect_uri": PORTAL_REDIRECT_URI,
        "scope": "openid profile phone",
        "state": state,
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    return f"{platform.config.gateway_url}/identity/v1/authorize?{urlencode(query)}", state


def test_a_citizen_signs_in_to_a_portal_with_the_keyboard_at_a_phones_size(
    platform: Platform, browser: WebDriver
) -> None:
    with platform.client() as gateway:
        citizen = register_citizen(gateway, platform.config.var_dir)
    url, state = _authorization_url(platform)
    browser.get(url)
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.ID, "password-phone"))
    check_page(browser, "sign-in-password")

    # The keyboard alone: the password form's phone field, Tab to the password, Enter.
    phone = browser.find_element(By.ID, "password-phone")
    phone.click()
    phone.send_keys(citizen.phone)
    browser.switch_to.active_element.send_keys(Keys.TAB)
    focused = browser.switch_to.active_element
    assert focused.get_attribute("id") == "password"
    focused.send_keys(citizen.password, Keys.ENTER)

    WebDriverWait(browser, 20).until(lambda d: "请求获取您的以下信息" in d.page_source)
    check_page(browser, "sign-in-consent")
    allow = browser.find_element(By.CSS_SELECTOR, 'button[value="allow"]')
    allow.send_keys(Keys.ENTER)

    WebDriverWait(browser, 20).until(lambda d: d.current_url.startswith(PORTAL_REDIRECT_URI))
    back = parse_qs(urlsplit(browser.current_url).query)
    assert back["state"] == [state]
    assert back["code"]
