"""The citizen-to-member whole road on a phone (issue 17, "Must show"), in headless Chromium
through the real services: a citizen scans the member's QR code and submits with a photo → the
station's clerk sees the case on the station's page → the member reads the words and the photo
on the duty page, calls the citizen (the audited reveal), answers and resolves → the citizen
rates 不满意 on the status page → the case reopens and both the status page and the duty page
say so → the member resolves again → the citizen rates 满意.

Screenshots (390 px wide) go to /tmp/shots/photos/road-*.png.
"""

import io
import zipfile
from pathlib import Path

import requests
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC  # noqa: N812
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.e2e.conftest import (
    after_click,
    fits_the_phone,
    gone,
    make_account,
    sign_in_on_page,
    wait_case,
)

SHOTS = Path("/tmp/shots/photos")
WORDS = "小区东门的路灯坏了一个多月，晚上老人摔倒过两次，请尽快修好"
PHONE_NUMBER = "13987654321"


def shot(phone, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = phone.execute_script("return document.documentElement.scrollHeight")
    phone.set_window_size(390, max(844, min(int(height) + 40, 2400)))
    assert phone.save_screenshot(str(SHOTS / f"road-{name}.png"))
    phone.set_window_size(390, 844)


def a_photo(where: Path) -> Path:
    """A phone photo of a broken street lamp, with the camera's EXIF and a GPS position."""
    image = Image.new("RGB", (1200, 900), (30, 30, 60))
    for x in range(560, 640):  # a lamp post
        for y in range(150, 900, 3):
            image.putpixel((x, y), (180, 180, 180))
    exif = Image.Exif()
    exif[0x010F] = "HUAWEI"
    exif[0x8825] = {1: "N", 2: (36.0, 3.0, 41.5), 3: "E", 4: (103.0, 50.0, 2.25)}
    path = where / "lamp.jpg"
    image.save(path, "JPEG", exif=exif.tobytes(), quality=90)
    return path


def sign_in(stack, phone, role: str, **scope) -> None:
    """Sign in on the registry's page as a new account of ``role`` (whoever was signed in
    before is forgotten: the phone changes hands)."""
    phone.get(stack.url("registry", "/sign-in"))
    phone.delete_all_cookies()
    phone.get(stack.url("registry", "/sign-in"))
    sign_in_on_page(phone, *make_account(stack, role, **scope))
    WebDriverWait(phone, 20).until(lambda d: d.get_cookie("lx_session"))


def thumbnail_loaded(phone, card) -> bool:
    """The card's first thumbnail came from intake as a picture (decoded, not a refusal)."""
    img = card.find_element(By.CSS_SELECTOR, ".photos img")
    return phone.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img)


def open_card(phone, url: str, number: str):
    phone.get(url)
    return WebDriverWait(phone, 20).until(EC.presence_of_element_located((By.ID, f"case-{number}")))


def member_acts(phone, duty: str, number: str, action: str, note: str | None = None) -> None:
    """The member presses ``action`` on the case's card (with ``note`` in the reply box) and the
    page reloads itself."""
    card = open_card(phone, duty, number)
    if note is not None:
        card.find_element(By.CSS_SELECTOR, "textarea[name=note]").send_keys(note)
    card.find_element(By.CSS_SELECTOR, f"button[data-action={action}]").click()
    WebDriverWait(phone, 20).until(lambda _: gone(card))


def status_says(phone, status_url: str, status: str, seconds: float = 30) -> None:
    def says(driver):
        driver.get(status_url)
        found = driver.find_elements(By.ID, "status")
        return found and found[0].get_attribute("data-status") == status

    WebDriverWait(phone, seconds, poll_frequency=0.5).until(says)


def test_the_whole_road_from_the_citizen_to_the_member_and_back(stack, phone, tmp_path):
    # 1. The citizen scans the member's code, writes, attaches a photo, submits.
    phone.get(stack.url("intake", "/q/member/m003"))
    assert phone.find_element(By.ID, "target-name").text == "张志强"
    stations = phone.find_elements(By.ID, "station")
    if stations:
        Select(stations[0]).select_by_value("gwm")
    Select(phone.find_element(By.ID, "category")).select_by_value("hazard")
    phone.find_element(By.ID, "description").send_keys(WORDS)
    phone.find_element(By.ID, "place").send_keys("城关区东岗西路 12 号")
    phone.find_element(By.ID, "name").send_keys("李桂兰")
    phone.find_element(By.ID, "phone").send_keys(PHONE_NUMBER)
    phone.find_element(By.ID, "consent").click()
    # first a zip renamed .jpg: refused beside the photo field, everything typed kept
    fake = tmp_path / "photo.jpg"
    with zipfile.ZipFile(fake, "w") as z:
        z.writestr("readme.txt", "not a photo")
    phone.find_element(By.ID, "media").send_keys(str(fake))
    phone.find_element(By.ID, "submit").click()
    refusal = after_click(phone, "media-error")
    assert (
        refusal.text.startswith("照片 1（photo.jpg）：不是可识别的照片") and " / " in refusal.text
    )
    assert phone.find_element(By.ID, "description").get_attribute("value") == WORDS
    assert phone.find_element(By.ID, "phone").get_attribute("value") == PHONE_NUMBER
    assert phone.find_element(By.ID, "consent").is_selected()
    assert fits_the_phone(phone)
    phone.execute_script("arguments[0].scrollIntoView({block: 'center'})", refusal)
    shot(phone, "0-refused")
    # then the real photo
    phone.find_element(By.ID, "media").send_keys(str(a_photo(tmp_path)))
    assert fits_the_phone(phone)
    shot(phone, "1-form")
    phone.find_element(By.ID, "submit").click()
    WebDriverWait(phone, 30).until(
        lambda d: d.find_elements(By.ID, "tracking-number") or d.find_elements(By.ID, "new-problem")
    )
    if phone.find_elements(By.ID, "new-problem"):  # "是否与以下问题相同?": a new problem
        assert "已保存 1 张照片" in phone.find_element(By.ID, "photos-kept").text
        phone.find_element(By.ID, "new-problem").click()
    number = after_click(phone, "tracking-number").text
    code = phone.find_element(By.ID, "lookup-code").text
    assert "已随问题提交照片 1 张" in phone.find_element(By.ID, "photos-sent").text
    assert not phone.find_elements(By.CSS_SELECTOR, "img")  # the receipt shows no photo
    assert fits_the_phone(phone)
    shot(phone, "2-receipt")
    case = wait_case(stack, number)
    assert case["member"] == "m003" and case["photos"] == 1

    # 2. The station's clerk finds it on the station's page: the words and the photo.
    sign_in(stack, phone, "station_admin", stations=["gwm"])
    card = open_card(phone, stack.url("routing", "/duty/station/gwm"), number)
    assert WORDS in card.text and "张志强" in card.text
    WebDriverWait(phone, 20).until(lambda _: thumbnail_loaded(phone, card))
    assert PHONE_NUMBER not in phone.page_source
    assert fits_the_phone(phone)
    phone.execute_script("arguments[0].scrollIntoView({block: 'start'})", card)
    shot(phone, "3-station")

    # 3. The member reads the words and sees the photo, opens it, calls the citizen.
    sign_in(stack, phone, "member", member="m003")
    duty = stack.url("routing", "/duty/m003")
    card = open_card(phone, duty, number)
    assert WORDS in card.text
    WebDriverWait(phone, 20).until(lambda _: thumbnail_loaded(phone, card))
    link = card.find_element(By.CSS_SELECTOR, ".photos a").get_attribute("href")
    assert link == stack.url("intake", f"/issues/{number}/photos/1")
    assert fits_the_phone(phone)
    shot(phone, "4-duty")
    photo = requests.get(link, cookies={"lx_session": phone.get_cookie("lx_session")["value"]})
    assert photo.status_code == 200 and photo.headers["Content-Type"] == "image/jpeg"
    kept = Image.open(io.BytesIO(photo.content))
    assert kept.size == (1200, 900) and not kept.getexif()  # no EXIF, no GPS
    card.find_element(By.CSS_SELECTOR, "a.call").click()
    WebDriverWait(phone, 20).until(EC.url_contains(f"/issues/{number}/call"))
    phone.find_element(By.ID, "reveal").click()
    tel = after_click(phone, "tel")
    WebDriverWait(phone, 10).until(lambda _: tel.get_attribute("href") == f"tel:{PHONE_NUMBER}")
    shot(phone, "5-call")

    # 4. The member answers and resolves.
    member_acts(phone, duty, number, "respond", "已联系供电所，本周内更换灯具")
    wait_case(stack, number, "responded")
    member_acts(phone, duty, number, "resolve", "路灯已于今日修复")
    wait_case(stack, number, "resolved")

    # 5. The citizen rates 不满意 on the status page: the case reopens, the page says so.
    phone.delete_all_cookies()
    status_url = stack.url("intake", f"/status?number={number}&code={code}")
    status_says(phone, status_url, "resolved")
    assert "路灯已于今日修复" in phone.find_element(By.ID, "answer").text
    assert not phone.find_elements(By.CSS_SELECTOR, "img")  # the status page shows no photo
    phone.find_element(By.CSS_SELECTOR, '#rate-form input[value="unsatisfied"]').click()
    phone.find_element(By.ID, "comment").send_keys("只修了一盏，另一盏还是不亮")
    phone.find_element(By.ID, "rate-submit").click()
    after_click(phone, "action-message")
    status_says(phone, status_url, "reopened")
    assert phone.find_element(By.ID, "current-status").text == "重新办理中"
    assert fits_the_phone(phone)
    shot(phone, "6-status-reopened")

    # 6. The duty page shows it being worked on again, with the photo still there.
    case = wait_case(stack, number, "assigned")
    assert case["reopens"] == 1
    sign_in(stack, phone, "member", member="m003")
    card = open_card(phone, duty, number)
    assert WORDS in card.text and card.find_elements(By.CSS_SELECTOR, "button[data-action=respond]")
    card.find_element(By.CSS_SELECTOR, ".history-box summary").click()  # the history, unfolded
    history = card.find_element(By.CSS_SELECTOR, "ol.history").text
    # the last step: the citizen's 不满意, named as the reopening it was, back to 已派单, with
    # their words
    assert "评价不满意，重新办理 rated unsatisfied: reopened · citizen → 已派单" in history, history
    assert history.endswith("另一盏还是不亮"), history
    WebDriverWait(phone, 20).until(lambda _: thumbnail_loaded(phone, card))
    shot(phone, "7-duty-reopened")

    # 7. The member answers and resolves again; the citizen rates 满意.
    member_acts(phone, duty, number, "respond", "另一盏也已更换，请再看看")
    wait_case(stack, number, "responded")
    member_acts(phone, duty, number, "resolve", "两盏路灯均已修复")
    wait_case(stack, number, "resolved")
    phone.delete_all_cookies()
    status_says(phone, status_url, "resolved")
    assert "两盏路灯均已修复" in phone.find_element(By.ID, "answer").text
    phone.find_element(By.CSS_SELECTOR, '#rate-form input[value="satisfied"]').click()
    phone.find_element(By.ID, "rate-submit").click()
    assert "已提交" in after_click(phone, "action-message").text
    assert wait_case(stack, number, "resolved")["rating"] == "satisfied"
    assert fits_the_phone(phone)
    shot(phone, "8-satisfied")
