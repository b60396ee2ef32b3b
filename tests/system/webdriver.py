"""A minimal W3C WebDriver client (standard library only) for the system
tests that drive a page in headless Chromium through chromedriver
(Debian's chromium and chromium-driver), such as 79-status-page.sh:

    from webdriver import Browser
    b = Browser(workdir)                  # starts chromedriver and Chromium
    b.get("http://10.0.0.1/")
    b.wait("return document.querySelector('#role').textContent == 'primary'", 60, "role")
    b.type("#key", "secret"); b.click("#migrate-go")
    b.screenshot(workdir + "/page.png")
    b.quit()

Every call raises WebDriverError with the driver's message on failure."""
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C element reference key
# The hosts are on a local link: no proxy, whatever the environment says.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class WebDriverError(Exception):
    pass


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Browser:
    def __init__(self, workdir, width=1280, height=2000):
        driver = shutil.which("chromedriver")
        binary = shutil.which("chromium")
        if not driver or not binary:
            raise WebDriverError("chromium and chromedriver are not installed (Debian: chromium chromium-driver)")
        port = _free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.log = open(os.path.join(workdir, "chromedriver.out"), "w")
        # A process group of its own: quit() ends Chromium with it even if
        # the session could not be closed.
        self.proc = subprocess.Popen([driver, f"--port={port}", f"--log-path={workdir}/chromedriver.log"],
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.sid = None
        deadline = time.time() + 30
        while True:
            try:
                if self._call("GET", "/status", timeout=2).get("ready"):
                    break
            except (OSError, WebDriverError):
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                self.quit()
                raise WebDriverError("chromedriver did not start")
            time.sleep(0.2)
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-proxy-server",
                f"--window-size={width},{height}", f"--user-data-dir={workdir}/chromium-profile", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-extensions", "--mute-audio"]
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "pageLoadStrategy": "normal",
            "timeouts": {"pageLoad": 60000, "script": 30000, "implicit": 0},
            "goog:chromeOptions": {"binary": binary, "args": args}}}}
        try:
            self.sid = self._call("POST", "/session", caps, timeout=90)["sessionId"]
        except (OSError, WebDriverError, KeyError) as e:
            self.quit()
            raise WebDriverError(f"no browser session: {e}")

    def _call(self, method, path, body=None, timeout=60):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json; charset=utf-8"})
        try:
            with _opener.open(req, timeout=timeout) as r:
                return json.load(r).get("value")
        except urllib.error.HTTPError as e:
            try:
                v = json.load(e).get("value", {})
                msg = f"{v.get('error')}: {v.get('message', '').splitlines()[0] if v.get('message') else ''}"
            except ValueError:
                msg = str(e)
            raise WebDriverError(f"{method} {path}: {msg}")

    def _s(self, method, path, body=None, timeout=60):
        return self._call(method, f"/session/{self.sid}{path}", body, timeout)

    def get(self, url):
        self._s("POST", "/url", {"url": url}, timeout=90)

    def js(self, script, *args):
        """Run script (a function body: 'return ...') in the page."""
        return self._s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css):
        return self._s("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def click(self, css):
        self._s("POST", f"/element/{self.find(css)}/click", {})

    def type(self, css, text):
        e = self.find(css)
        self._s("POST", f"/element/{e}/clear", {})
        self._s("POST", f"/element/{e}/value", {"text": text})

    def screenshot(self, path):
        png = base64.b64decode(self._s("GET", "/screenshot"))
        with open(path, "wb") as f:
            f.write(png)
        return len(png)

    def wait(self, script, timeout, what, *args):
        """Until script returns something truthy (returned), or raise."""
        deadline, last = time.time() + timeout, None
        while True:
            try:
                v = self.js(script, *args)
                if v:
                    return v
                last = v
            except WebDriverError as e:
                last = e
            if time.time() > deadline:
                raise WebDriverError(f"waited {timeout} s for {what}: last {last!r}")
            time.sleep(0.5)

    def quit(self):
        if self.sid:
            try:
                self._call("DELETE", f"/session/{self.sid}", timeout=20)
            except (OSError, WebDriverError):
                pass
            self.sid = None
        if self.proc:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
            self.proc = None
        self.log.close()
