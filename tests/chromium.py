"""Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
JSON messages ended by a NUL byte, commands on the browser's fd 3, replies on its fd 4),
so that a test can open a page, wait for something to appear in its DOM and take a
screenshot, with nothing but the standard library. Debian's ``chromium`` package provides
the browser (``make browser-test-deps``); :func:`available` says why a test must skip."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome")


def executable() -> str | None:
    return next((found for name in NAMES if (found := shutil.which(name))), None)


def available() -> str | None:
    """None where Chromium can run, else the reason to skip."""
    if executable() is None:
        return "no Chromium (apt-get install chromium, or make browser-test-deps)"
    return None


class Chromium:
    """A headless browser with one page of ``width`` x ``height`` pixels; use it as a
    context manager."""

    def __init__(self, profile: Path, width: int = 1280, height: int = 800,
                 timeout: float = 30.0) -> None:
        self.timeout, self.size = timeout, (width, height)
        commands_read, commands_write = os.pipe()
        replies_read, replies_write = os.pipe()
        # above fd 4, so that the child's dup2 onto 3 and 4 cannot overwrite one of them
        inherited = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (commands_read, replies_write)]
        for fd in (commands_read, replies_write):
            os.close(fd)

        def onto_3_and_4() -> None:
            os.dup2(inherited[0], 3)
            os.dup2(inherited[1], 4)

        self.process = subprocess.Popen(
            [executable(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--no-first-run", "--remote-debugging-pipe", f"--user-data-dir={profile}",
             f"--window-size={width},{height}", "about:blank"],
            pass_fds=(3, 4), preexec_fn=onto_3_and_4, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for fd in inherited:
            os.close(fd)
        self._commands, self._replies = commands_write, replies_read
        self._buffer, self._id, self.session = b"", 0, None

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.send("Browser.close")
        except (OSError, EOFError, TimeoutError, RuntimeError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._commands)
        os.close(self._replies)

    def send(self, method: str, params: dict | None = None, session: str | None = None
             ) -> dict:
        """Send one command; its result (events in between are skipped)."""
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def _read(self) -> dict:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._replies], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer")
            chunk = os.read(self._replies, 1 << 16)
            if not chunk:
                raise EOFError("Chromium closed its pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def open(self, url: str) -> None:
        """Open ``url`` in a new page of the browser's size, which the other methods then
        act on."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
        width, height = self.size
        self.send("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            self.session)
        self.send("Page.navigate", {"url": url}, self.session)

    def evaluate(self, expression: str) -> object:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.send("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                "returnByValue": True}, self.session)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20.0) -> object:
        """The first truthy value of ``expression``, polled every 0.1 s."""
        deadline = time.monotonic() + timeout
        while not (value := self.evaluate(expression)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {expression}")
            time.sleep(0.1)
        return value

    def screenshot(self) -> bytes:
        """The page as PNG bytes."""
        data = self.send("Page.captureScreenshot", {"format": "png"}, self.session)["data"]
        return base64.b64decode(data)
