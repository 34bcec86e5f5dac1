"""The browser tests' browser: headless Chromium from Debian's packages (``chromium``,
``chromium-driver``), driven by Selenium at a phone's size (360 × 640), or a desk's for the
workbench; and what every page they visit must pass (``check_page``): axe-core's WCAG 2.1 A/AA
rules, no sideways scrolling, the page-weight budget, a screenshot kept as the run's artefact
(``ONEVISIT_ARTIFACTS_DIR``, by default ``var/test-artifacts``), beside each page's weight
(``page-weights.jsonl``).

Nothing here downloads a browser: where none is installed the tests are skipped, unless
``ONEVISIT_REQUIRE_BROWSER`` is set (``.ci/run`` sets it after installing one): then they fail."""

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from onevisit_dev.platform import REPO_ROOT

AXE = REPO_ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(os.environ.get("ONEVISIT_ARTIFACTS_DIR", REPO_ROOT / "var" / "test-artifacts"))
PHONE = (360, 640)
DESK = (1280, 800)
#: The most a page may weigh, everything it loads included (its HTML, style sheet and script),
#: as decoded: the README's budget. The pages use the system's fonts and no images.
PAGE_WEIGHT_BUDGET_BYTES = 32 * 1024


def missing() -> str | None:
    """What the browser tests lack on this machine, or None."""
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        return "Debian's chromium"
    if not shutil.which("chromedriver"):
        return "Debian's chromium-driver"
    if not AXE.exists():
        return f"{AXE} (npm ci --prefix tests/browser)"
    return None


@contextmanager
def chromium(size: tuple[int, int] = PHONE, *, mobile: bool = True) -> Iterator[Any]:
    """A headless Chromium at ``size``, emulating a phone when ``mobile``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        raise RuntimeError(f"no browser here: {missing()}")
    options = Options()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--lang=zh-CN"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={size[0]},{size[1]}")
    if mobile:
        metrics = {"width": size[0], "height": size[1], "pixelRatio": 2.0}
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": metrics})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def page_weight(driver: Any) -> int:
    """Bytes a first visit to the page loads, decoded: its document and every style sheet,
    script and image it names (fetched again here: a cached file would otherwise count 0)."""
    weight: int = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const [navigation] = performance.getEntriesByType("navigation");
        const urls = [...document.querySelectorAll("link[rel=stylesheet], script[src], img[src]")]
            .map(element => element.href || element.src);
        Promise.all(urls.map(url => fetch(url).then(answer => answer.arrayBuffer())))
            .then(files => done(files.reduce((sum, file) => sum + file.byteLength,
                                             navigation.decodedBodySize)))
            .catch(error => done(-1));
        """
    )
    return weight


def check_page(driver: Any, name: str) -> None:
    """axe-core's WCAG A/AA rules find nothing; the page fits its window's width; it weighs
    no more than the budget; a screenshot ``<name>.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
    assert driver.execute_script("return document.documentElement.lang") == "zh-CN"
    assert driver.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth"
    ), f"the {name} page scrolls sideways"
    weight = page_weight(driver)
    with (ARTIFACTS / "page-weights.jsonl").open("a", encoding="utf-8") as weights:
        weights.write(json.dumps({"page": name, "bytes": weight}) + "\n")
    assert 0 < weight <= PAGE_WEIGHT_BUDGET_BYTES, f"the {name} page weighs {weight} bytes"
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    result: Any = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21aa"]}})
           .then(result => done(result.violations.map(v => ({id: v.id, nodes: v.nodes.length,
                 first: v.nodes[0] && v.nodes[0].html}))))
           .catch(error => done({error: String(error)}));
        """
    )
    assert result == [], f"axe-core on the {name} page: {result}"
