#!/usr/bin/env python3
"""The dashboard in a real browser: Debian's Chromium, driven by Python Playwright,
against a real `zart serve` process on a fresh SQLite file.

Every page loads with no console error, and every action is taken through the page
and its effect checked through the JSON API. A screenshot of each page is written to
$ZART_SCREENSHOT_DIR/dashboard-*.png (run with ZART_SCREENSHOT_DIR=docs to refresh
the README's).

Skips with a notice when Chromium or Playwright is missing, unless
ZART_REQUIRE_BROWSER=1 (CI sets it). The server binary is ZART_BIN, else
$CARGO_TARGET_DIR/debug/zart (or target/debug/zart), built when absent.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHROMIUM = os.environ.get("ZART_CHROMIUM", "/usr/bin/chromium")
REQUIRED = os.environ.get("ZART_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
# Screenshots go to ZART_SCREENSHOT_DIR (`ZART_SCREENSHOT_DIR=docs` refreshes the
# README's), else to a temporary directory.
SHOTS = os.environ.get("ZART_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="zart-shots-")


def skip(reason):
    if REQUIRED:
        sys.exit("browser test required (ZART_REQUIRE_BROWSER=1) but " + reason)
    print("SKIPPED the dashboard browser test: " + reason)
    sys.exit(0)


try:
    from playwright.sync_api import sync_playwright, expect
except ImportError:
    skip("Python playwright is not installed (pip install playwright)")
if not os.path.exists(CHROMIUM):
    skip(CHROMIUM + " is missing (apt-get install chromium)")


def zart_binary():
    if os.environ.get("ZART_BIN"):
        return os.environ["ZART_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    binary = os.path.join(target, "debug", "zart")
    subprocess.run(["cargo", "build", "-q", "-p", "zart-cli"], cwd=ROOT, check=True)
    return binary


class Server:
    """A `zart serve` process on a free port; `api` calls its JSON routes."""

    def __init__(self, workdir, *flags):
        db = "sqlite://" + os.path.join(workdir, "zart-%d.db" % len(os.listdir(workdir)))
        self.tokens = {}
        self.proc = subprocess.Popen(
            [zart_binary(), "serve", "--db", db, "--bind", "127.0.0.1:0", *flags],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for line in self.proc.stdout:
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                self.base = m.group(1)
                break
        else:
            raise RuntimeError("zart serve did not start")
        # Keep reading its output, so a full pipe never blocks the server.
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def api(self, method, path, body=None, admin=False, token=None):
        prefix = "/zart/admin/v1" if admin else "/api/v1"
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + prefix + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=40) as r:
                text = r.read().decode()
                return r.status, json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read().decode() or "null")

    def until(self, what, check, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError("timed out waiting for " + what)

    def execution(self, id):
        return self.api("GET", "/executions/" + id)[1]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def confirm(page):
    """Clicks the submit button of the open dialog (a confirmation or a form)."""
    page.locator("dialog[open] button[type=submit]").click()
    expect(page.locator("dialog[open]")).to_have_count(0)


def shot(page, name):
    page.evaluate("document.getElementById('notices').replaceChildren()")
    page.wait_for_timeout(300)
    page.screenshot(path=os.path.join(SHOTS, "dashboard-%s.png" % name), full_page=True)


def check_pages_and_actions(page, s):
    # Seed: a failed execution, one waiting for an event, one to cancel.
    s.api("POST", "/executions", {"executionId": "pay-7", "taskName": "flaky",
                                  "payload": {"failTimes": 3, "maxAttempts": 3}})
    s.api("POST", "/executions", {"executionId": "order-1", "taskName": "order-fulfillment",
                                  "payload": {"orderId": "A-1", "amount": 42, "settleMs": 50}})
    s.api("POST", "/executions", {"executionId": "approval-1", "taskName": "approval", "payload": {}})
    for i in range(25):
        s.api("POST", "/executions", {"executionId": "echo-%02d" % i, "taskName": "echo", "payload": {"n": i}})
    s.until("pay-7 to fail", lambda: s.execution("pay-7")["status"] == "failed")
    s.until("order-1 to wait", lambda: (s.execution("order-1").get("waitingFor") or {}).get("kind") == "event")

    # Overview.
    page.goto(s.base + "/")
    expect(page.locator(".card[data-status=failed] .count")).to_have_text("1")
    expect(page.locator("ul.failures")).to_contain_text("pay-7")
    expect(page.locator(".metric[data-metric=started] .value")).to_have_text("28")
    shot(page, "overview")

    # Executions: filter by status (kept in the hash), page, open a row.
    page.click("nav a[data-view=executions]")
    expect(page.locator("table.list tbody tr.row")).to_have_count(20)
    shot(page, "executions")
    page.select_option("select[name=status]", "failed")
    expect(page.locator("table.list tbody tr.row")).to_have_count(1)
    assert "status=failed" in page.url, page.url
    page.reload()
    expect(page.locator("select[name=status]")).to_have_value("failed")
    page.select_option("select[name=status]", "")
    page.fill("input[name=search]", "echo-")
    expect(page).to_have_url(re.compile(r"search=echo-"))
    page.click("text=Older →")
    expect(page.locator("table.list tbody tr.row")).to_have_count(5)
    assert "page=1" in page.url, page.url
    page.click("text=← Newer")
    expect(page.locator("table.list tbody tr.row")).to_have_count(20)
    page.fill("input[name=search]", "pay")
    expect(page).to_have_url(re.compile(r"search=pay"))
    expect(page.locator("table.list tbody tr.row")).to_have_count(1)
    page.click("tr.row[data-id=pay-7]")

    # Detail, then retry the dead step.
    expect(page.locator(".step-row[data-status=dead]")).to_have_count(1)
    page.click(".step-row[data-status=dead] .step-label")
    expect(page.locator("table.attempts tbody tr")).to_have_count(3)
    shot(page, "detail")
    page.click("text=Retry step")
    confirm(page)
    s.until("pay-7 to complete after the retry", lambda: s.execution("pay-7")["status"] == "completed")

    # Restart, then a selective rerun.
    page.reload()
    page.click("button:has-text('Restart')")
    confirm(page)
    s.until("run 2", lambda: len(s.api("GET", "/executions/pay-7/runs", admin=True)[1]) == 2)
    s.until("pay-7 to end again", lambda: s.execution("pay-7")["status"] in ("completed", "failed"))
    page.reload()
    page.click("button:has-text('Rerun steps')")
    page.locator("dialog[open] input[name=rerun]").first.check()
    confirm(page)
    runs = s.until("run 3", lambda: (lambda r: r if len(r) == 3 else None)(s.api("GET", "/executions/pay-7/runs", admin=True)[1]))
    assert runs[2]["trigger"] == "selective_rerun" and runs[2]["triggeredBy"] == "dashboard", runs[2]
    expect(page.locator("select[name=run] option")).to_have_count(3)

    # Deliver an event.
    page.goto(s.base + "/#/executions/order-1")
    expect(page.locator(".waiting-words")).to_contain_text("waiting for event `shipment_ready`")
    page.click("text=Deliver event")
    expect(page.locator("dialog[open] input[name=eventName]")).to_have_value("shipment_ready")
    page.fill("dialog[open] textarea", '{"trackingNumber": "1Z999"')
    expect(page.locator("dialog[open] .json-editor .hint")).to_contain_text("invalid JSON")
    page.fill("dialog[open] textarea", '{"trackingNumber": "1Z999"}')
    confirm(page)
    done = s.until("order-1 to complete", lambda: (lambda e: e if e["status"] == "completed" else None)(s.execution("order-1")))
    assert done["result"]["trackingNumber"] == "1Z999", done
    # The inbox shows the event, taken by the wait; a stray one stays pending.
    s.api("POST", "/events/approval-1/note", {"text": "left for later"})
    page.reload()
    inbox = page.locator("section.inbox")
    expect(inbox.locator("tbody tr")).to_have_count(1)
    expect(inbox).to_contain_text("shipment_ready")
    expect(inbox.locator(".badge.s-consumed")).to_have_count(1)
    expect(inbox).to_contain_text("1Z999")
    shot(page, "inbox")

    # Cancel.
    page.goto(s.base + "/#/executions/approval-1")
    expect(page.locator("section.inbox .badge.s-pending")).to_have_count(1)
    expect(page.locator("section.inbox")).to_contain_text("left for later")
    page.click("button.danger:has-text('Cancel')")
    confirm(page)
    s.until("approval-1 cancelled", lambda: s.execution("approval-1")["status"] == "cancelled")

    # Start: invalid JSON is refused before sending.
    page.click("nav a[data-view=start]")
    page.select_option("select[name=taskName]", "echo")
    page.fill("input[name=executionId]", "ui-echo-1")
    page.fill("form.start textarea", "{not json")
    expect(page.locator("form.start button[type=submit]")).to_be_disabled()
    page.fill("form.start textarea", '{"hello": "dashboard"}')
    shot(page, "start")
    page.click("form.start button[type=submit]")
    page.wait_for_url(re.compile(r"#/executions/ui-echo-1"))
    started = s.until("ui-echo-1", lambda: (lambda e: e if e["status"] == "completed" else None)(s.execution("ui-echo-1")))
    assert started["payload"] == {"hello": "dashboard"}, started
    # A server error is shown as the server wrote it.
    page.click("nav a[data-view=start]")
    page.fill("input[name=executionId]", "ui-echo-1")
    page.fill("form.start textarea", '{"other": 1}')
    page.click("form.start button[type=submit]")
    expect(page.locator("form.start .error-text")).to_contain_text("409")

    # Pause rules: create, then resume.
    page.click("nav a[data-view=pauses]")
    page.fill("input[name=taskName]", "echo")
    page.fill("input[name=reason]", "maintenance")
    page.click("text=Create rule")
    expect(page.locator("tr[data-rule]")).to_have_count(1)
    rules = s.api("GET", "/pause", admin=True)[1]
    assert len(rules) == 1 and rules[0]["taskName"] == "echo" and rules[0]["reason"] == "maintenance", rules
    shot(page, "pauses")
    page.click("tr[data-rule] button:has-text('Resume')")
    confirm(page)
    expect(page.locator("tr[data-rule]")).to_have_count(0)
    assert s.api("GET", "/pause", admin=True)[1] == []

    # Schedules: pause, resume, trigger, delete.
    page.click("nav a[data-view=schedules]")
    row = page.locator("tr[data-schedule=heartbeat]")
    row.locator("text=Pause").click()
    expect(row.locator(".badge")).to_have_text("paused")
    assert s.api("GET", "/schedules/heartbeat", admin=True)[1]["paused"] is True
    row.locator("text=Resume").click()
    expect(row.locator(".badge")).to_have_text("active")
    assert s.api("GET", "/schedules/heartbeat", admin=True)[1]["paused"] is False
    row.locator("text=Trigger").click()
    confirm(page)
    fired = s.until("a firing", lambda: s.api("GET", "/executions?search=heartbeat@")[1])
    assert fired[0]["name"] == "heartbeat", fired
    shot(page, "schedules")
    row.locator("text=Delete").click()
    confirm(page)
    expect(page.locator("tr[data-schedule=heartbeat]")).to_have_count(0)
    assert s.api("GET", "/schedules/heartbeat", admin=True)[0] == 404


def check_tokens(page, s):
    """With tokens set, the page asks for them; without the admin token the admin
    controls are disabled."""
    s.api("POST", "/executions", {"executionId": "t-1", "taskName": "echo", "payload": 1}, token="api-t")
    page.goto(s.base + "/")
    expect(page.locator("dialog[open] input[name=apiToken]")).to_be_visible()
    page.fill("dialog[open] input[name=apiToken]", "api-t")
    confirm(page)
    expect(page.locator(".card[data-status=completed] .count")).to_have_text("1")
    expect(page.locator("main")).to_contain_text("need the admin token")
    page.goto(s.base + "/#/executions/t-1")
    expect(page.locator("button:has-text('Restart')")).to_be_disabled()
    page.click("#tokens")
    page.fill("dialog[open] input[name=adminToken]", "admin-t")
    confirm(page)
    expect(page.locator("button:has-text('Restart')")).to_be_enabled()
    expect(page.locator(".timeline")).to_be_visible()
    assert "api-t" not in page.url and "admin-t" not in page.url


def main():
    errors = []
    with tempfile.TemporaryDirectory() as workdir, sync_playwright() as p:
        for name, flags, check in [
            ("open", [], check_pages_and_actions),
            ("tokens", ["--token", "api-t", "--admin-token", "admin-t"], check_tokens),
        ]:
            server = Server(workdir, *flags)
            profile = tempfile.mkdtemp(dir=workdir)
            context = p.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                viewport={"width": 1280, "height": 860})
            page = context.new_page()
            page.set_default_timeout(15000)
            page.on("console", lambda m, n=name: errors.append(n + ": " + m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e, n=name: errors.append(n + ": " + str(e)))
            try:
                check(page, server)
            finally:
                context.close()
                server.stop()
            print("ok: dashboard " + name)
    # The one error the test provokes on purpose: the browser logs the 409 of the
    # conflicting start (the page shows the server's message).
    provoked = [e for e in errors if e.startswith("open: ") and "status of 409" in e]
    unexpected = [e for e in errors if e not in provoked]
    assert len(provoked) == 1 and not unexpected, "console errors: %s" % errors
    print("dashboard browser test passed")


if __name__ == "__main__":
    main()
