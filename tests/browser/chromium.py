"""Debian's chromium, driven through chromedriver with Selenium.

Playwright cannot download its browsers here, so the browser is the distro's
``/usr/bin/chromium`` (installed by scripts/testenv/setup.sh) with its
matching ``chromedriver``.  Each :class:`Browser` has a fresh profile
directory, so no cookie survives from one test to the next.  Keycloak's
certificate (issued by the test CA) is trusted by pinning its public key
(``--ignore-certificate-errors-spki-list``), not by ignoring TLS errors.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1100,800",
)


#: Debian's packages (``chromium``, ``chromium-driver``); never a downloaded browser.
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def chromium_paths() -> tuple[str, str] | None:
    """(chromium, chromedriver) when both are installed (``AUTHGATE_CHROMIUM`` /
    ``AUTHGATE_CHROMEDRIVER`` override the Debian paths)."""
    browser = os.environ.get("AUTHGATE_CHROMIUM") or CHROMIUM
    driver = os.environ.get("AUTHGATE_CHROMEDRIVER") or CHROMEDRIVER
    if os.access(browser, os.X_OK) and os.access(driver, os.X_OK):
        return browser, driver
    return None


def spki_pin(cert_file: Path) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate."""
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


class Browser:
    """One headless chromium with a fresh profile."""

    def __init__(self, paths: tuple[str, str], pinned_certs: list[Path], artifacts: Path) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        # Both paths are given, so Selenium Manager has nothing to resolve; offline
        # makes sure it never tries to download a browser or a driver.
        os.environ.setdefault("SE_OFFLINE", "true")
        self.profile = tempfile.mkdtemp(prefix="authgate-chromium-")
        self.artifacts = artifacts
        options = webdriver.ChromeOptions()
        options.binary_location = paths[0]
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        pins = ",".join(spki_pin(c) for c in pinned_certs)
        if pins:
            options.add_argument(f"--ignore-certificate-errors-spki-list={pins}")
        service = Service(executable_path=paths[1], log_output=str(artifacts / "chromedriver.log"))
        self.driver: Any = webdriver.Chrome(service=service, options=options)
        self.driver.set_page_load_timeout(60)

    def get(self, url: str) -> None:
        self.driver.get(url)

    @property
    def url(self) -> str:
        return str(self.driver.current_url)

    def text(self) -> str:
        return str(self.driver.find_element("tag name", "body").text)

    def has(self, css: str) -> bool:
        return bool(self.driver.find_elements("css selector", css))

    def wait_for(self, css: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.has(css):
                return
            time.sleep(0.05)
        raise AssertionError(f"{css!r} did not appear at {self.url}: {self.text()[:300]!r}")

    def on_login_page(self) -> bool:
        return self.has("input#username") and self.has("input#password")

    def fill_login(self, username: str, password: str) -> None:
        """Keycloak's own login form, as a person fills it."""
        self.wait_for("input#username")
        self.driver.find_element("css selector", "input#username").send_keys(username)
        self.driver.find_element("css selector", "input#password").send_keys(password)
        self.driver.find_element("css selector", "#kc-login").click()

    def screenshot(self, name: str) -> Path:
        path = self.artifacts / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def cookies(self) -> dict[str, str]:
        return {c["name"]: c["value"] for c in self.driver.get_cookies()}

    def set_cookie(self, name: str, value: str) -> None:
        self.driver.add_cookie(
            {"name": name, "value": value, "path": "/", "httpOnly": True, "sameSite": "Lax"}
        )

    def delete_cookie(self, name: str) -> None:
        self.driver.delete_cookie(name)

    def fetch(self, url: str, method: str = "GET", accept: str = "application/json") -> Any:
        """``fetch()`` from the page (credentials included): status and body."""
        script = (
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[0], {method: arguments[1], credentials: 'include',"
            " headers: {'Accept': arguments[2]}})"
            ".then(async r => done([r.status, await r.text()]))"
            ".catch(e => done([0, String(e)]));"
        )
        return self.driver.execute_async_script(script, url, method, accept)

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)
