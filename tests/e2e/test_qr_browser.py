"""The QR page as a citizen meets it: headless Chromium on a phone-sized window.

Scan (open the member's page), write the issue, submit, read the tracking number and lookup
code, open the status page; script typed into the form comes back as text and never runs.
Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them).
"""

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as shows
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.e2e.conftest import PHONE, after_click, fits_the_phone, wait_case


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
    assert after_click(phone, "current-status").text == "已派单"
    # the member's public name (as on the poster), never the citizen's phone
    assert phone.find_element(By.ID, "member").text == "张志强"
    assert "13800001234" not in phone.page_source and "m003" not in phone.page_source

    # The English switch keeps the citizen on the same page.
    phone.find_element(By.ID, "lang-switch").click()
    WebDriverWait(phone, 20).until(
        lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    )
    assert phone.find_element(By.ID, "number").get_attribute("value") == number
    assert phone.find_element(By.ID, "current-status").text == "assigned to a member"
    assert fits_the_phone(phone)
