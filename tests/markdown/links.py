#!/usr/bin/env python3
"""Render a Markdown report with two real renderers, autolinking on, and
list every link they made.

Usage: links.py < REPORT.md

The renderers: GitHub's cmark-gfm (PyPI cmarkgfm, the autolink extension
GitHub runs on comments and files) and markdown-it-py with linkify-it-py
(linkify with its defaults: fuzzy links and e-mails; bare IPv4 addresses
are linked by neither GitHub nor linkify's defaults). Prints
one JSON object: for each renderer, the hrefs of the links it made and the
rendered text (tags stripped, entities decoded).
"""

import html
import json
import re
import sys

import cmarkgfm
from cmarkgfm.cmark import Options
from markdown_it import MarkdownIt


def text_of(rendered):
    return html.unescape(re.sub(r"<[^>]*>", "", rendered))


def main():
    source = sys.stdin.read()
    gfm = cmarkgfm.github_flavored_markdown_to_html(source, options=Options.CMARK_OPT_UNSAFE)
    md = MarkdownIt("gfm-like", {"linkify": True})
    md.linkify.set({"fuzzy_link": True, "fuzzy_email": True})
    it = md.render(source)
    out = {}
    for name, rendered in (("cmark-gfm", gfm), ("markdown-it", it)):
        out[name] = {
            "links": re.findall(r"<a\s[^>]*href=\"([^\"]*)\"", rendered),
            "text": text_of(rendered),
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
