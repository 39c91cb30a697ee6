"""Headless Chromium driven over the DevTools protocol, for the MLflow UI tests and
scripts/screenshots.py: open a page, wait until it shows what a user waits for, read it,
take a screenshot.

The protocol runs over ``--remote-debugging-pipe`` (JSON messages ended by NUL on file
descriptors 3 and 4), so no port, no websocket library, and nothing but Debian's
``chromium`` package. The MLflow UI is a single-page app that fetches its runs after the
first render: a test waits for a condition in the page, never for a fixed time.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from servers import stop

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]
# MLflow 3.17 opens its Assistant panel over a third of the page on the first visit of a
# browser to a local server, once; these are the marks it leaves when a user closes it.
ASSISTANT_SEEN = {"mlflow.assistant.fab.autoOpenedOnFirstLoad_v1": "true"}


class Chromium:
    """One headless Chromium with a fresh profile; ``with Chromium() as browser: ...``."""

    def __init__(self, width: int = 1600, height: int = 1000):
        self.width, self.height = width, height
        self.profile = Path(tempfile.mkdtemp(prefix="logreg-chromium-"))
        commands, self._to_browser = os.pipe()
        self._from_browser, replies = os.pipe()

        def pipes_on_3_and_4():  # in the child: the fds the protocol uses
            os.dup2(commands, 3)
            os.dup2(replies, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        self.proc = subprocess.Popen(
            [
                str(CHROMIUM),
                *FLAGS,
                f"--user-data-dir={self.profile}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            preexec_fn=pipes_on_3_and_4,
            close_fds=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        os.close(commands)
        os.close(replies)
        self._buffer, self._id, self.session = b"", 0, None

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass  # closed already
        stop(self.proc)  # the browser and its renderer and zygote processes
        shutil.rmtree(self.profile, ignore_errors=True)

    # -- the protocol ---------------------------------------------------------------------
    def send(self, method: str, params: dict | None = None, timeout: float = 60) -> dict:
        """Send one command (to the open page, if any) and return its result."""
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline, method)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"chromium: {method}: {reply['error']}")
                return reply["result"]

    def _receive(self, deadline: float, method: str) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"chromium did not answer {method}")
            if select.select([self._from_browser], [], [], left)[0]:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise RuntimeError(f"chromium exited (code {self.proc.poll()})")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    # -- what a test does -----------------------------------------------------------------
    def open(self, url: str, local_storage: dict[str, str] | None = None) -> None:
        """Open ``url`` in a new page; ``local_storage`` is set on its origin first."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        self.send("Page.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False},
        )
        storage = {**ASSISTANT_SEEN, **(local_storage or {})}
        origin = url.split("/#", 1)[0].rstrip("/")
        self.send("Page.navigate", {"url": f"{origin}/health"})  # a small page of the origin
        self.wait_for("document.readyState === 'complete'", 30)
        self.evaluate(
            ";".join(
                f"localStorage.setItem({json.dumps(k)}, {json.dumps(v)})"
                for k, v in storage.items()
            )
        )
        self.send("Page.navigate", {"url": url})

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:200]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60, settle: float = 1.0):
        """Poll ``expression`` until it is truthy; return its value. ``settle`` seconds
        more let late requests and charts finish drawing."""
        deadline, value = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except RuntimeError:
                value = None  # the page is still loading
            if value:
                time.sleep(settle)
                return value
            time.sleep(0.3)
        raise AssertionError(
            f"the page never showed what {expression!r} waits for within {timeout:.0f} s; "
            f"it shows: {self.text()[:2000]}"
        )

    def text(self) -> str:
        return self.evaluate("document.body ? document.body.innerText : ''") or ""

    def click_text(self, text: str) -> bool:
        """Click the first button or link whose text is ``text``; False if there is none."""
        return bool(
            self.evaluate(
                "(() => { const e = [...document.querySelectorAll('button, a, span')]"
                f".find(e => e.textContent.trim() === {json.dumps(text)});"
                " if (e) { e.click(); return true } return false })()"
            )
        )

    def screenshot(self, path: str | os.PathLike, full_height: bool = False) -> Path:
        """The page as a PNG: the window, or with ``full_height`` all of the page."""
        params: dict = {"format": "png"}
        if full_height:
            height = self.evaluate("document.documentElement.scrollHeight")
            params.update(
                captureBeyondViewport=True,
                clip={"x": 0, "y": 0, "width": self.width, "height": height, "scale": 1},
            )
        data = self.send("Page.captureScreenshot", params)["data"]
        path = Path(path)
        path.write_bytes(base64.b64decode(data))
        return path
