#!/usr/bin/env python3
"""Open a flinkscan HTML report in a real Chromium and check it.

Usage: check_report.py REPORT.html EXPECT.json

EXPECT.json (written by tests/html_report.rs from the scan's JSON report):
  clusters: [ids], findings: N, by_severity: {sev: N}, by_cluster: {id: N},
  search: {"text": ..., "count": N}, hostile: [strings that must show as text],
  baseline (when the scan had one): {"new": N, "unchanged": N, "fixed": N}

The print layout is checked for every report: at the printable width of A4
and Letter portrait, in print media, nothing is wider than the page and no
fix text overflows its box; identifiers wrap only after a separator (read
from the rendered line boxes, there and on a narrow screen); and Chromium
prints a PDF of each page size whose pages are that size, portrait.

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


# Printable width at 96 CSS px per inch: the page less the report's
# `@page { margin: 10mm }` on each side.
MM = 96 / 25.4
MARGIN_MM = 10
PAGES = {
    "A4": (210 * MM, 297 * MM),
    "Letter": (8.5 * 96, 11 * 96),
}
# PDF points (1/72 in) of each page, portrait.
PAGE_POINTS = {"A4": (595.28, 841.89), "Letter": (612.0, 792.0)}

# Cells and spans that hold identifiers (endpoint, rule, cluster id), found
# by their place in the report so the check does not trust the report's own
# markup to say which they are.
IDENT_CELLS = ", ".join(
    [
        "#findings-table tbody td:nth-child(2)",
        "#findings-table tbody td:nth-child(3)",
        "#findings-table tbody td:nth-child(4)",
        "table.members tbody td:first-child",
        "table.members tbody td:nth-child(2)",
        "table.services tbody td:first-child",
        "table.services tbody td:nth-child(6)",
        "article.cluster .card-head .id",
        # Severity and baseline labels: one word each, never split either.
        ".sev",
        ".bl",
    ]
)
SEPARATORS = set(":/@_-,=&?#;")

# Everything laid out wider than `width` or reaching past it, and every fix
# text that overflows its own box (cut off when printed).
OVERFLOW_JS = """(width) => {
  const out = [];
  const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
    (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : '');
  const page = document.documentElement.scrollWidth;
  if (page > width + 1) { out.push('document scrollWidth ' + page); }
  document.querySelectorAll('body *').forEach((e) => {
    const r = e.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) { return; }
    if (r.right > width + 1 || r.left < -1) {
      out.push(name(e) + ' spans ' + Math.round(r.left) + '..' + Math.round(r.right));
    }
  });
  document.querySelectorAll('.fix, table.posture td:last-child').forEach((e) => {
    if (e.scrollWidth > e.clientWidth + 1) {
      out.push(name(e) + ' cut: ' + e.scrollWidth + ' > ' + e.clientWidth);
    }
  });
  return out.slice(0, 20);
}"""

# The rendered lines of each identifier cell: the text of each line box,
# read character by character from the layout.
LINES_JS = """(els) => els.map((el) => {
  const lines = [];
  let cur = '';
  let top = null;
  const range = document.createRange();
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  let n;
  while ((n = walker.nextNode())) {
    for (let i = 0; i < n.data.length; i++) {
      range.setStart(n, i);
      range.setEnd(n, i + 1);
      const rects = range.getClientRects();
      if (!rects.length) { cur += n.data[i]; continue; }
      const t = rects[0].top;
      if (top !== null && t > top + 2) { lines.push(cur); cur = ''; }
      if (top === null || t > top + 2) { top = t; }
      cur += n.data[i];
    }
  }
  lines.push(cur);
  return lines.filter((l) => l.trim().length > 0);
})"""


def mid_token_breaks(lines):
    """Line breaks inside an identifier that are not after a separator (a
    `.` counts unless digits stand on both sides: addresses stay whole)."""
    bad = []
    for a, b in zip(lines, lines[1:]):
        if a[-1:].isspace() or b[:1].isspace():
            continue  # a break at a space (a role such as `rpc (mutual TLS)`)
        c = a[-1]
        digits = len(a) > 1 and a[-2].isdigit() and b[0].isdigit()
        if c in SEPARATORS or (c == "." and not digits):
            continue
        bad.append(f"{a!r} / {b!r}")
    return bad


def check_layout(page, failures, seen):
    """Print layout at A4 and Letter portrait widths, identifiers' line
    boxes there and on a narrow screen, and a real PDF of each page size."""
    page.emulate_media(media="print")
    page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
    wrapped = 0
    widths = [(name, w - 2 * MARGIN_MM * MM, "print") for name, (w, _) in PAGES.items()]
    widths.append(("narrow-screen", 420, "screen"))
    for name, width, media in widths:
        page.emulate_media(media=media)
        page.set_viewport_size({"width": int(width), "height": 900})
        if media == "print":
            over = page.evaluate(OVERFLOW_JS, int(width))
            seen[f"overflow-{name}"] = over
            if over:
                failures.append(f"{name} print layout wider than the page ({int(width)} px): {over}")
        cells = page.eval_on_selector_all(IDENT_CELLS, LINES_JS)
        seen[f"ident-cells-{name}"] = len(cells)
        for lines in cells:
            if len(lines) > 1:
                wrapped += 1
            for bad in mid_token_breaks(lines):
                failures.append(f"{name}: identifier broken mid-token: {bad}")
    seen["ident-cells-wrapped"] = wrapped
    if wrapped == 0:
        failures.append("no identifier cell wrapped at any width: the line-box check saw nothing")
    page.emulate_media(media="print")
    for name, (w_pt, h_pt) in PAGE_POINTS.items():
        pdf = page.pdf(
            format=name,
            print_background=True,
            margin={side: f"{MARGIN_MM}mm" for side in ("top", "right", "bottom", "left")},
        )
        boxes = pdf_media_boxes(pdf)
        seen[f"pdf-{name}-pages"] = len(boxes)
        if not boxes:
            failures.append(f"{name}: the PDF has no page")
        for box in boxes:
            if abs(box[0] - w_pt) > 1 or abs(box[1] - h_pt) > 1:
                failures.append(f"{name}: a PDF page is {box}, not {w_pt}x{h_pt} portrait")


def pdf_media_boxes(pdf):
    """(width, height) in points of each page's /MediaBox."""
    import re

    boxes = []
    for m in re.finditer(rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]", pdf):
        x0, y0, x1, y1 = (float(v) for v in m.groups())
        boxes.append((x1 - x0, y1 - y0))
    return boxes


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

        # Against a baseline: counts, a badge per row, the filter and the
        # header's counts as links to it. Without one: none of that.
        base = expect.get("baseline")
        if base:
            for state in ("new", "unchanged", "fixed"):
                stat = page.query_selector(f"#stat-{state} b")
                check(f"stat-{state}", stat and stat.inner_text(), str(base[state]))
            if page.query_selector("#f-baseline") is None:
                failures.append("no baseline filter (#f-baseline)")
                base = None
        if base:
            badges = page.eval_on_selector_all(
                rows,
                "els => els.map(r => [r.getAttribute('data-baseline'),"
                " (r.querySelector('.bl') || {}).textContent])",
            )
            check("badges-match-rows", all(a == b for a, b in badges), True)
            for state in ("new", "unchanged"):
                check(f"badges-{state}", sum(1 for a, _ in badges if a == state), base[state])
                page.select_option("#f-baseline", state)
                check(f"filter-baseline-{state}", count_visible(), base[state])
                check(f"label-baseline-{state}", page.inner_text("#f-count"), str(base[state]))
            page.select_option("#f-baseline", "")
            check("filter-baseline-all", count_visible(), expect["findings"])
            page.click("#stat-new")
            check("stat-new-link", count_visible(), base["new"])
            page.select_option("#f-baseline", "")
            check("fixed-listed", page.eval_on_selector_all("ul.fixed li", "els => els.length"), base["fixed"])
        elif "baseline" not in expect:
            check("no-baseline-filter", page.eval_on_selector_all("#f-baseline, .bl, #stat-new", "els => els.length"), 0)

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
        check_layout(page, failures, seen)
        browser.close()

    check("console-errors", console_errors, [])
    check("page-errors", page_errors, [])
    check("requests", blocked, [])
    print(json.dumps({"ok": not failures, "failures": failures, "seen": seen}))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
