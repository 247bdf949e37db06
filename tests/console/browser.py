"""Headless Chromium from Debian's packages, driven by Selenium, never downloading anything."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CHROMIUM = os.environ.get("RINGWATCH_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("RINGWATCH_CHROMEDRIVER", "/usr/bin/chromedriver")


def available() -> bool:
    return bool(shutil.which(CHROMIUM)) and bool(shutil.which(CHROMEDRIVER))


def chrome(width: int = 1400, height: int = 900):  # type: ignore[no-untyped-def]
    # Explicit paths plus offline mode: Selenium Manager must not fetch a browser or driver.
    os.environ["SE_OFFLINE"] = "true"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI containers run as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def shot(driver, name: str) -> None:  # type: ignore[no-untyped-def]
    """Save a screenshot when RINGWATCH_CONSOLE_SCREENSHOTS names a directory (docs/console)."""
    target = os.environ.get("RINGWATCH_CONSOLE_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(target) / f"{name}.png"))
