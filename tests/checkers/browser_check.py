#!/usr/bin/env python3
"""A real browser against `stet serve`: headless Chromium over WebDriver (Debian's chromium and
chromium-driver, driven by selenium). It opens the watch list, follows an article, selects two
versions, and finds the changed word marked as removed and the new one as added. Then it opens
an archived page whose script tries to write a cookie, call stet's API and navigate the top
window, and checks that none of it happened.

The browser is logged in (a session cookie) while it shows the hostile page, so a script running
in stet's origin could add a watch through the API; the sandbox must stop it.

usage: browser_check.py BASE_URL TOKEN ARTICLE_TITLE REMOVED_WORD ADDED_WORD HOSTILE_RAW_PATH [SHOT_DIR]
"""
import os
import shutil
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

base, token, title, removed, added, hostile = sys.argv[1:7]
shots = sys.argv[7] if len(sys.argv) > 7 else None

profile = tempfile.mkdtemp(prefix="stet-chromium-")
options = webdriver.ChromeOptions()
options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", "--window-size=1280,900", f"--user-data-dir={profile}"]:
    options.add_argument(flag)
service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
driver = webdriver.Chrome(service=service, options=options)
driver.set_page_load_timeout(30)


def watches_count():
    with urllib.request.urlopen(base + "/api/v1/watches?status=all&limit=500") as r:
        import json
        return len(json.load(r)["items"])


try:
    driver.get(base + "/")
    assert "Watches" in driver.title, driver.title
    if shots:
        driver.save_screenshot(os.path.join(shots, "watches.png"))
    link = driver.find_element(By.LINK_TEXT, title)
    link.click()
    assert driver.find_element(By.CSS_SELECTOR, "h1.headline").text == title
    # Select version 1 as "from" and version 2 as "to", then compare.
    driver.find_element(By.CSS_SELECTOR, "input[name=from][value='1']").click()
    driver.find_element(By.CSS_SELECTOR, "input[name=to][value='2']").click()
    driver.find_element(By.ID, "compare").click()
    WebDriverWait(driver, 10).until(lambda d: "/diff" in d.current_url)
    assert "/diff" in driver.current_url, driver.current_url
    dels = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#diff td.old del")]
    inss = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#diff td.new ins")]
    assert dels == [removed], dels
    assert inss == [added], inss
    # The marks are visible: the browser styles them apart from the text around them.
    d = driver.find_element(By.CSS_SELECTOR, "#diff td.old del")
    assert d.value_of_css_property("text-decoration-line") == "line-through"
    assert d.is_displayed()
    if shots:
        driver.set_window_size(1280, 1500)
        driver.save_screenshot(os.path.join(shots, "diff.png"))
        driver.set_window_size(1280, 900)
    print("diff marks:", dels, "->", inss)

    # The hostile archived page: its script must not run in stet's origin.
    driver.get(base + "/login")
    driver.find_element(By.NAME, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "form.filters button").click()
    # The click only submits the form: wait for the login's answer to set the cookie.
    WebDriverWait(driver, 10).until(lambda d: d.get_cookies())
    assert [c["name"] for c in driver.get_cookies()] == ["stet_session"], driver.get_cookies()
    before = watches_count()
    driver.get(base + hostile)
    time.sleep(1.5)
    assert driver.current_url == base + hostile, "the page navigated away: " + driver.current_url
    assert driver.title != "script ran", "the archived script ran"
    driver.get(base + "/")
    names = sorted(c["name"] for c in driver.get_cookies())
    assert names == ["stet_session"], names
    assert watches_count() == before, "the archived script reached the API"
    print("hostile page: no script, no cookie, no fetch, no navigation")
finally:
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
