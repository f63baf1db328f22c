"""The QR page as a citizen meets it: headless Chromium on a phone-sized window.

Scan (open the member's page), write the issue, submit, read the tracking number and lookup
code, open the status page; script typed into the form comes back as text and never runs.
Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them).
"""

import shutil
import tempfile

import pytest

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as shows  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from tests.e2e.conftest import wait_case  # noqa: E402

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
PHONE = (390, 844)  # CSS pixels of a common phone


@pytest.fixture
def phone():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.fail(
            "chromium and chromium-driver are needed: apt-get install -y chromium "
            "chromium-driver (.ci/run does it)"
        )
    profile = tempfile.mkdtemp(prefix="lx-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        f"--window-size={PHONE[0]},{PHONE[1]}",
    ):
        options.add_argument(arg)
    options.add_experimental_option(
        "mobileEmulation",
        {"deviceMetrics": {"width": PHONE[0], "height": PHONE[1], "pixelRatio": 3.0}},
    )
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def after_click(driver, element_id: str, seconds: float = 20):
    """The element on the page the click leads to (the click itself does not wait)."""
    return WebDriverWait(driver, seconds).until(
        shows.presence_of_element_located((By.ID, element_id))
    )


def fits_the_phone(driver) -> bool:
    """No sideways scrolling: the page is as wide as the phone."""
    return driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")


def test_a_citizen_on_a_phone_reports_and_checks_progress(stack, phone):
    phone.get(stack.url("intake", "/q/member/m003"))
    assert phone.find_element(By.ID, "target-name").text == "张志强"
    assert phone.execute_script("return window.innerWidth") <= PHONE[0]
    assert fits_the_phone(phone)

    # First a mistake: a phone number without the consent line, and script in the text.
    script = "<script>window.pwned = 1</script><b>楼道灯</b>坏了"
    Select(phone.find_element(By.ID, "station")).select_by_value("gwm")
    Select(phone.find_element(By.ID, "category")).select_by_value("health")
    phone.find_element(By.ID, "description").send_keys(script)
    phone.find_element(By.ID, "phone").send_keys("13800001234")
    phone.find_element(By.ID, "submit").click()
    WebDriverWait(phone, 20).until(
        shows.presence_of_element_located((By.CSS_SELECTOR, '[data-field="consent"]'))
    )
    error = phone.find_element(By.CSS_SELECTOR, '[data-field="consent"]')
    assert error.text.startswith("留下姓名或电话须同意")
    # what the citizen typed is back in the box, as text, and it did not run
    assert phone.find_element(By.ID, "description").get_attribute("value") == script
    assert phone.execute_script("return window.pwned === undefined")
    assert not phone.find_elements(By.CSS_SELECTOR, "main b")

    phone.find_element(By.ID, "consent").click()
    phone.find_element(By.ID, "submit").click()
    number = after_click(phone, "tracking-number").text
    code = phone.find_element(By.ID, "lookup-code").text
    assert number.startswith("LX") and len(code) == 6
    assert fits_the_phone(phone)
    wait_case(stack, number)

    phone.find_element(By.ID, "status-link").click()
    assert after_click(phone, "current-status").text in ("已受理", "已派给委员办理")
    assert "13800001234" not in phone.page_source and "张志强" not in phone.page_source

    # The English switch keeps the citizen on the same page.
    phone.find_element(By.ID, "lang-switch").click()
    WebDriverWait(phone, 20).until(
        lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    )
    assert phone.find_element(By.ID, "number").get_attribute("value") == number
    assert phone.find_element(By.ID, "current-status").text in ("received", "assigned to a member")
    assert fits_the_phone(phone)
