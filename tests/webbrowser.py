"""Headless Chromium from Debian's packages (chromium, chromium-driver: `make browser`) under
selenium, for the browser tests and `make screenshots`."""
import os
import shutil

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
DESKTOP = (1280, 900)
PHONE = (390, 844)  # CSS pixels of a common phone


def available():
    return os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)


def chrome(size=DESKTOP, phone=False):
    """A headless Chromium at `size`; `phone` emulates a touch screen at 3x pixels."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-extensions", "--window-size=%d,%d" % size):
        options.add_argument(arg)
    if phone:
        options.add_experimental_option("mobileEmulation", {
            "deviceMetrics": {"width": size[0], "height": size[1], "pixelRatio": 3.0, "touch": True}})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    return driver


def wait_for(driver, check, timeout_s=30, what="condition"):
    """check(driver) until truthy (its value) or a TimeoutException naming `what`."""
    from selenium.webdriver.support.ui import WebDriverWait

    waiting = WebDriverWait(driver, timeout_s, poll_frequency=0.1)
    return waiting.until(check, "waited %d s for %s" % (timeout_s, what))


def text(driver, element_id):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id).text
