"""The platform's sign-in pages in a real browser: headless Chromium from Debian's packages
(``chromium``, ``chromium-driver``), driven by Selenium, at a phone's size (360 × 640), through
the gateway to the real processes. A citizen signs in to the demo portal with the keyboard
alone, consents, and is sent back with a code; each page passes axe-core's accessibility rules
(WCAG 2.1 A and AA) and does not scroll sideways. Screenshots are kept as the run's artefacts
(``ONEVISIT_ARTIFACTS_DIR``, by default ``var/test-artifacts``).

Where no Chromium is installed the test is skipped, unless ``ONEVISIT_REQUIRE_BROWSER`` is set,
as ``.ci/run`` sets it after installing the browser: there a missing browser fails."""

import base64
import hashlib
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from onevisit_dev.callers import register_citizen
from onevisit_dev.platform import PORTAL_CLIENT_ID, PORTAL_REDIRECT_URI, Platform

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[1]
AXE = REPO_ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(os.environ.get("ONEVISIT_ARTIFACTS_DIR", REPO_ROOT / "var" / "test-artifacts"))


def _browser_paths() -> tuple[str, str] | None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    paths = _browser_paths()
    if paths is None or not AXE.exists():
        missing = "Debian's chromium and chromium-driver" if paths is None else str(AXE)
        if os.environ.get("ONEVISIT_REQUIRE_BROWSER"):
            pytest.fail(f"the browser tests need {missing}")
        pytest.skip(f"the browser tests need {missing} (.ci/run installs them)")
    chromium, driver_path = paths
    options = Options()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--lang=zh-CN"):
        options.add_argument(argument)
    options.add_argument("--window-size=360,640")
    options.add_experimental_option(
        "mobileEmulation", {"deviceMetrics": {"width": 360, "height": 640, "pixelRatio": 2.0}}
    )
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


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


def _check_page(driver: WebDriver, name: str) -> None:
    """axe-core's WCAG A/AA rules find nothing; the page fits a phone's width; a screenshot."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"sign-in-{name}.png"))
    assert driver.execute_script("return document.documentElement.lang") == "zh-CN"
    assert driver.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth"
    ), f"the {name} page scrolls sideways at 360 px"
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    result: dict[str, Any] = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21aa"]}})
           .then(result => done(result.violations.map(v => ({id: v.id, nodes: v.nodes.length}))))
           .catch(error => done({error: String(error)}));
        """
    )
    assert result == [], f"axe-core on the {name} page: {result}"


def test_a_citizen_signs_in_to_a_portal_with_the_keyboard_at_a_phones_size(
    platform: Platform, browser: WebDriver
) -> None:
    with platform.client() as gateway:
        citizen = register_citizen(gateway, platform.config.var_dir)
    url, state = _authorization_url(platform)
    browser.set_script_timeout(30)
    browser.get(url)
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.ID, "password-phone"))
    _check_page(browser, "password")

    # The keyboard alone: the password form's phone field, Tab to the password, Enter.
    phone = browser.find_element(By.ID, "password-phone")
    phone.click()
    phone.send_keys(citizen.phone)
    browser.switch_to.active_element.send_keys(Keys.TAB)
    focused = browser.switch_to.active_element
    assert focused.get_attribute("id") == "password"
    focused.send_keys(citizen.password, Keys.ENTER)

    WebDriverWait(browser, 20).until(lambda d: "请求获取您的以下信息" in d.page_source)
    _check_page(browser, "consent")
    allow = browser.find_element(By.CSS_SELECTOR, 'button[value="allow"]')
    allow.send_keys(Keys.ENTER)

    WebDriverWait(browser, 20).until(lambda d: d.current_url.startswith(PORTAL_REDIRECT_URI))
    back = parse_qs(urlsplit(browser.current_url).query)
    assert back["state"] == [state]
    assert back["code"]
