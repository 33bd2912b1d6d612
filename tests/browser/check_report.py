#!/usr/bin/env python3
"""Open a flinkscan HTML report in a real Chromium and check it.

Usage: check_report.py REPORT.html EXPECT.json

EXPECT.json (written by tests/html_report.rs from the scan's JSON report):
  clusters: [ids], findings: N, by_severity: {sev: N}, by_cluster: {id: N},
  search: {"text": ..., "count": N}, hostile: [strings that must show as text]

Every request other than the report itself is aborted and counted; console
errors (a Content-Security-Policy violation is one) and page errors fail
the check. Prints one JSON line with what it saw; exits 1 on any failure.
"""

import json
import os
import shutil
import sys

from playwright.sync_api import sync_playwright


def chromium_path():
    for candidate in (
        os.environ.get("FLINKSCAN_CHROMIUM"),
        shutil.which("chromium"),
        shutil.which("chromium-headless-shell"),
        "/usr/lib/chromium/chromium",
    ):
        if candidate and os.path.exists(candidate):
            return candidate
    raise SystemExit("no chromium: apt-get install -y chromium")


def main():
    report, expect_file = sys.argv[1], sys.argv[2]
    with open(expect_file, encoding="utf-8") as f:
        expect = json.load(f)
    url = "file://" + os.path.abspath(report)
    failures = []
    console_errors = []
    page_errors = []
    blocked = []
    seen = {}

    def check(name, got, want):
        seen[name] = got
        if got != want:
            failures.append(f"{name}: got {got!r}, want {want!r}")

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        context = browser.new_context(java_script_enabled=True)

        def route(r):
            if r.request.url == url:
                r.continue_()
            else:
                blocked.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on("request", lambda req: req.url != url and blocked.append(req.url))
        page.on(
            "console",
            lambda msg: msg.type in ("error", "warning") and console_errors.append(msg.text),
        )
        page.on("pageerror", lambda err: page_errors.append(str(err)))
        page.goto(url, wait_until="load")

        clusters = page.eval_on_selector_all(
            "article.cluster", "els => els.map(e => e.getAttribute('data-cluster'))"
        )
        check("clusters", sorted(clusters), sorted(expect["clusters"]))
        rows = "#findings-table tbody tr"
        visible = f"{rows}:not([hidden])"

        def count_visible():
            return page.eval_on_selector_all(visible, "els => els.length")

        check("findings", page.eval_on_selector_all(rows, "els => els.length"), expect["findings"])
        check("count-label", page.inner_text("#f-count"), str(expect["findings"]))
        for sev, n in expect["by_severity"].items():
            bar = page.get_attribute(f"#severity-chart rect[data-severity={sev}]", "data-count")
            check(f"chart-{sev}", int(bar), n)
            page.select_option("#f-severity", sev)
            check(f"filter-severity-{sev}", count_visible(), n)
        page.select_option("#f-severity", "")
        for cid, n in expect["by_cluster"].items():
            page.select_option("#f-cluster", cid)
            check(f"filter-cluster-{cid}", count_visible(), n)
            check(f"label-cluster-{cid}", page.inner_text("#f-count"), str(n))
        page.select_option("#f-cluster", "")
        page.fill("#f-search", expect["search"]["text"])
        check("search", count_visible(), expect["search"]["count"])
        page.fill("#f-search", "")
        check("cleared", count_visible(), expect["findings"])

        # A cluster card's button filters the table to it.
        first = expect["clusters"][0]
        page.click(f"article.cluster[data-cluster='{first}'] button[data-filter-cluster]")
        check("card-button", count_visible(), expect["by_cluster"].get(first, 0))
        page.select_option("#f-cluster", "")

        # Sorting by severity: ascending puts the mildest first, then the worst.
        page.click("#findings-table th:nth-child(1)")
        first_sev = page.get_attribute(f"{visible}:first-child", "data-severity")
        page.click("#findings-table th:nth-child(1)")
        top_sev = page.get_attribute(f"{visible}:first-child", "data-severity")
        order = ["info", "low", "medium", "high", "critical"]
        present = [s for s in order if expect["by_severity"].get(s, 0) > 0]
        check("sort-ascending", first_sev, present[0] if present else None)
        check("sort-descending", top_sev, present[-1] if present else None)

        # Hostile strings: shown as text, never run.
        check("pwned", page.evaluate("() => typeof window.pwned"), "undefined")
        check("title", page.title().startswith("flinkscan report"), True)
        body_text = page.inner_text("body")
        # Details are closed; textContent sees their content too.
        all_text = page.evaluate("() => document.body.textContent")
        for s in expect["hostile"]:
            if s not in all_text:
                failures.append(f"hostile string not shown as text: {s!r}")
        scripts = page.eval_on_selector_all("script", "els => els.length")
        check("scripts", scripts, 1)
        injected = page.eval_on_selector_all(
            "img, iframe, object, embed, link, base, meta[http-equiv=refresh]", "els => els.length"
        )
        check("injected-elements", injected, 0)

        # Print layout: controls hidden, every detail open.
        page.emulate_media(media="print")
        page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
        check("print-controls", page.eval_on_selector(".controls", "e => getComputedStyle(e).display"), "none")
        check(
            "print-details-open",
            page.eval_on_selector_all("details:not([open])", "els => els.length"),
            0,
        )
        seen["body_chars"] = len(body_text)
        browser.close()

    check("console-errors", console_errors, [])
    check("page-errors", page_errors, [])
    check("requests", blocked, [])
    print(json.dumps({"ok": not failures, "failures": failures, "seen": seen}))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
