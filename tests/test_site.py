"""The rendered book, checked the way a reader sees it.

The module builds the book once (``jupyter-book build book/`` into a temporary directory, warnings
as errors), serves the HTML from 127.0.0.1 with Python's http.server and opens every built page in
headless Chromium through selenium. It fails on

- a build that printed a warning or failed,
- a page that does not load (HTTP error, empty title or empty body),
- an ``<img>`` that does not resolve (not complete, or zero natural width),
- an internal link whose target is missing (HTTP error) or whose ``#fragment`` names no element id
  on the target page (same-page fragments included),
- equations left as raw TeX (MathJax is served by the book itself, not by a CDN),
- a page that shows an nbval marker comment (``# NBVAL_...``) or ``%config`` in code, or a code
  block or output wider than its box (a horizontal scrollbar; dropdowns are opened first), in the
  test's 1280 px wide window,

and saves a screenshot of the patches chapter to ``tests/artifacts/site-patches.png``.

Chromium cannot reach any other host during the test (``--host-resolver-rules``), so an image that
is only available from the network counts as broken: the book must carry its own figures. External
links are not followed.

Needs Debian's ``chromium`` and ``chromium-driver`` packages; without them the tests fail (they are
not skipped) and say how to install them.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import pytest
from helpers import REPO

ARTIFACTS = REPO / "tests" / "artifacts"
SCREENSHOT = ARTIFACTS / "site-patches.png"
SCREENSHOT_PAGE = "notebooks/patches.html"

CHROMIUM = os.environ.get("VITCOURSE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("VITCOURSE_CHROMEDRIVER", "/usr/bin/chromedriver")
INSTALL_HINT = (
    "install Debian's Chromium and its driver: apt-get install -y chromium chromium-driver "
    "(run apt-get update first on a fresh machine; prefix both with sudo if you are not root)"
)

BUILD_TIMEOUT_S = 600
PAGE_TIMEOUT_S = 30


# --------------------------------------------------------------------------------------------
# Building and serving the book
# --------------------------------------------------------------------------------------------


@dataclass
class BookBuild:
    returncode: int
    output: str  # stdout and stderr of the build, interleaved
    html_dir: Path


def _jupyter_book_executable() -> str:
    beside_python = Path(sys.executable).with_name("jupyter-book")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("jupyter-book")
    if found is None:
        pytest.fail("jupyter-book is not installed: pip install -r requirements.txt")
    return found


@pytest.fixture(scope="module")
def book_build(tmp_path_factory) -> BookBuild:
    out = tmp_path_factory.mktemp("book-build")
    command = [
        _jupyter_book_executable(), "build", "book/", "--path-output", str(out),
        "-W", "-n", "--keep-going",  # every warning reported, and any warning fails the build
    ]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        command, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=BUILD_TIMEOUT_S,
    )
    return BookBuild(proc.returncode, proc.stdout, out / "_build" / "html")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature fixed by the base class
        pass


@pytest.fixture(scope="module")
def site_url(book_build):
    if not (book_build.html_dir / "index.html").is_file():
        pytest.fail(f"the book build produced no index.html; build output:\n{book_build.output[-5000:]}")
    handler = functools.partial(_QuietHandler, directory=str(book_build.html_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="book-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# --------------------------------------------------------------------------------------------
# The browser
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (os.path.isfile(p) and os.access(p, os.X_OK))]
    if missing:
        pytest.fail(f"headless Chromium is needed for the site test, missing: {', '.join(missing)}; "
                    + INSTALL_HINT)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tmp_path_factory.mktemp("chromium-profile")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--disable-extensions", "--window-size=1280,1400",
        f"--user-data-dir={profile}",
        # Only the local server is reachable: external resources fail at once instead of hanging.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ):
        options.add_argument(flag)
    service = Service(executable_path=CHROMEDRIVER, log_output=str(profile / "chromedriver.log"))
    try:
        driver = webdriver.Chrome(service=service, options=options)
    except Exception as exc:  # a broken install must read as such, not as a site problem
        pytest.fail(f"could not start headless Chromium ({type(exc).__name__}: {exc}); " + INSTALL_HINT)
    driver.set_page_load_timeout(PAGE_TIMEOUT_S)
    driver.set_script_timeout(PAGE_TIMEOUT_S)
    try:
        yield driver
    finally:
        driver.quit()


# --------------------------------------------------------------------------------------------
# Crawling every page
# --------------------------------------------------------------------------------------------

_IMAGES_JS = """
const done = arguments[arguments.length - 1];
const images = Array.from(document.images);
for (const img of images) { if (img.loading === 'lazy') img.loading = 'eager'; }
const settled = img => img.complete ? Promise.resolve() : new Promise(resolve => {
  img.addEventListener('load', resolve, {once: true});
  img.addEventListener('error', resolve, {once: true});
  setTimeout(resolve, 10000);
});
Promise.all(images.map(settled)).then(() => done(images.map(img => ({
  src: img.getAttribute('src') || '',
  url: img.currentSrc || img.src || '',
  ok: img.complete && img.naturalWidth > 0,
}))));
"""

_PAGE_JS = """
return {
  url: location.href,
  title: document.title.trim(),
  body: document.body ? document.body.innerText.trim().length : 0,
  ids: Array.from(document.querySelectorAll('[id]'), e => e.id)
        .concat(Array.from(document.querySelectorAll('a[name]'), e => e.getAttribute('name'))),
  links: Array.from(document.querySelectorAll('a[href]'),
                    a => [a.getAttribute('href'), a.href]),
};
"""


_READER_JS = """
for (const d of document.querySelectorAll('details')) d.open = true;   // solutions, dropdowns
const problems = [];
for (const pre of document.querySelectorAll('pre')) {
  const text = pre.textContent;
  const output = pre.closest('.cell_output, .output') !== null;
  const where = pre.closest('.cell_input') ? 'code cell' : (output ? 'output' : 'code block');
  if (!output) {
    for (const line of text.split('\\n')) {
      if (/^\\s*#\\s*(NBVAL|PYTEST_VALIDATE)_/.test(line) || /^\\s*%config\\b/.test(line)) {
        problems.push(`${where} shows ${JSON.stringify(line.trim())}`);
      }
    }
  }
  if (pre.scrollWidth > pre.clientWidth + 1) {
    const longest = text.split('\\n').reduce((a, b) => b.length > a.length ? b : a, '');
    problems.push(`${where} is ${pre.scrollWidth} px wide in a ${pre.clientWidth} px box `
                  + `(a scrollbar): ${JSON.stringify(longest.slice(0, 70))}`);
  }
}
return problems;
"""


@dataclass
class SiteCrawl:
    base: str
    pages: list[str]  # paths relative to the site root, e.g. "notebooks/patches.html"
    load_problems: list[str] = field(default_factory=list)
    image_problems: list[str] = field(default_factory=list)
    link_problems: list[str] = field(default_factory=list)
    reader_problems: list[str] = field(default_factory=list)  # markers, %config, wide code
    links_checked: int = 0
    images_checked: int = 0


class _RefreshParser(HTMLParser):
    """Finds a <meta http-equiv="refresh"> redirect (Sphinx writes one into index.html)."""

    def __init__(self):
        super().__init__()
        self.target = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "refresh":
            content = a.get("content") or ""
            if "url=" in content.lower():
                self.target = content[content.lower().index("url=") + 4:].strip().strip("'\"")


class _IdParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("name"):
            self.ids.add(a["name"])


def _built_pages(html_dir: Path) -> list[str]:
    """Every HTML page of the book: all .html files except those in Sphinx's underscore folders
    (_static holds theme template fragments such as webpack-macros.html, which are not pages)."""
    pages = []
    for path in sorted(html_dir.rglob("*.html")):
        rel = path.relative_to(html_dir)
        if rel.parts[0].startswith("_"):
            continue
        pages.append(rel.as_posix())
    return pages


def _http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=PAGE_TIMEOUT_S) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _target_file(html_dir: Path, url: str) -> Path | None:
    """The file a same-origin URL serves, or None when it serves nothing (or a directory listing)."""
    path = unquote(urlsplit(url).path)
    local = html_dir / path.lstrip("/")
    if path.endswith("/") or local.is_dir():
        local = local / "index.html"
    return local if local.is_file() else None


@pytest.fixture(scope="module")
def crawl(book_build, site_url, browser) -> SiteCrawl:
    from selenium.common.exceptions import WebDriverException

    html_dir = book_build.html_dir
    result = SiteCrawl(base=site_url, pages=_built_pages(html_dir))
    origin = urlsplit(site_url).netloc
    ids_by_url: dict[str, set[str]] = {}  # page URL (no fragment) -> element ids in the live DOM
    links: list[tuple[str, str, str, str]] = []  # (page, page URL, raw href, resolved href)

    for page in result.pages:
        url = site_url + page
        status = _http_status(url)
        if status != 200:
            result.load_problems.append(f"{page}: HTTP {status}")
            continue
        try:
            browser.get(url)
            refresh = _RefreshParser()
            refresh.feed((html_dir / page).read_text(encoding="utf-8", errors="replace"))
            if refresh.target:  # a redirect page: the reader ends up on its target
                deadline = time.monotonic() + 10
                while browser.current_url == url and time.monotonic() < deadline:
                    time.sleep(0.05)
                if browser.current_url == url:
                    result.load_problems.append(f"{page}: redirect to {refresh.target!r} never happened")
                    continue
            info = browser.execute_script(_PAGE_JS)
            images = browser.execute_async_script(_IMAGES_JS)
            reader = browser.execute_script(_READER_JS)
        except WebDriverException as exc:
            result.load_problems.append(f"{page}: browser error {exc.msg}")
            continue
        if not info["title"] or info["body"] == 0:
            result.load_problems.append(
                f"{page}: empty page (title {info['title']!r}, {info['body']} characters of text)")
        result.reader_problems.extend(f"{page}: {problem}" for problem in reader)
        final_url = urldefrag(info["url"])[0]
        ids_by_url[final_url] = set(info["ids"])
        if final_url != url:
            ids_by_url[url] = ids_by_url[final_url]
        for img in images:
            result.images_checked += 1
            if not img["ok"]:
                result.image_problems.append(f"{page}: image {img['src']!r} ({img['url']}) does not load")
        for raw, resolved in info["links"]:
            links.append((page, final_url, raw, resolved))
        if page == SCREENSHOT_PAGE:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(SCREENSHOT))

    status_cache: dict[str, bool] = {}
    for page, page_url, raw, resolved in links:
        raw = raw.strip()
        if not raw or raw.lower().startswith(("mailto:", "javascript:", "tel:", "data:")):
            continue
        parts = urlsplit(resolved)
        if parts.scheme not in ("http", "https") or parts.netloc != origin:
            continue  # external: not followed
        result.links_checked += 1
        target, fragment = urldefrag(resolved)
        target = target.split("?", 1)[0]
        if target not in status_cache:
            status_cache[target] = (_http_status(target) == 200
                                    and _target_file(html_dir, target) is not None)
        if not status_cache[target]:
            result.link_problems.append(f"{page}: link {raw!r} -> {target} is missing")
            continue
        fragment = unquote(fragment)
        if not fragment or fragment == "top":  # "#" and "#top" scroll to the top by definition
            continue
        if target not in ids_by_url:
            target_file = _target_file(html_dir, target)
            if target_file.suffix != ".html":
                continue  # a fragment into a non-HTML file (e.g. a PDF page) is not checked
            parser = _IdParser()
            parser.feed(target_file.read_text(encoding="utf-8", errors="replace"))
            ids_by_url[target] = parser.ids
        if fragment not in ids_by_url[target]:
            where = "on the same page" if target == page_url else f"on {target[len(site_url):]}"
            result.link_problems.append(f"{page}: link {raw!r}: no element with id {fragment!r} {where}")

    return result


# --------------------------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------------------------


def test_book_builds_without_warnings(book_build):
    warnings = [line for line in book_build.output.splitlines() if "WARNING" in line or "ERROR" in line]
    if book_build.returncode != 0 or warnings:
        pytest.fail(
            f"`jupyter-book build -W -n --keep-going book/` exited {book_build.returncode} with "
            f"{len(warnings)} warning/error line(s):\n" + "\n".join(warnings)
            + f"\n--- end of the build output ---\n{book_build.output[-3000:]}", pytrace=False)


def test_every_page_loads(crawl):
    for expected in ("intro.html", SCREENSHOT_PAGE):
        if expected not in crawl.pages:
            pytest.fail(f"{expected} was not built; pages: {crawl.pages}", pytrace=False)
    if crawl.load_problems:
        pytest.fail(f"{len(crawl.load_problems)} of {len(crawl.pages)} page(s) do not load:\n"
                    + "\n".join(crawl.load_problems), pytrace=False)


def test_every_image_resolves(crawl):
    if crawl.image_problems:
        pytest.fail(f"{len(crawl.image_problems)} of {crawl.images_checked} image(s) do not load:\n"
                    + "\n".join(crawl.image_problems), pytrace=False)


def test_every_internal_link_resolves(crawl):
    if crawl.links_checked == 0:
        pytest.fail("no internal links were found: the crawl is not working", pytrace=False)
    if crawl.link_problems:
        pytest.fail(f"{len(crawl.link_problems)} of {crawl.links_checked} internal link(s) are broken:\n"
                    + "\n".join(crawl.link_problems), pytrace=False)


def test_screenshot_of_the_patches_chapter(crawl):
    assert SCREENSHOT.is_file(), f"no screenshot was saved at {SCREENSHOT}"
    data = SCREENSHOT.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000, (
        f"{SCREENSHOT} is not a real screenshot ({len(data)} bytes)")


def test_site_features(book_build):
    """Search, a bibliography, a Colab launch button on notebook chapters, the repository link."""
    html = book_build.html_dir
    assert (html / "search.html").is_file() and (html / "searchindex.js").is_file(), "no search page"
    bibliography = (html / "bibliography.html").read_text(encoding="utf-8")
    assert "An image is worth 16x16 words" in bibliography, "the bibliography misses the ViT paper"
    patches = (html / SCREENSHOT_PAGE).read_text(encoding="utf-8")
    assert "https://colab.research.google.com/github/vitcourse/vitcourse/blob/main/" in patches, (
        "no Colab launch button on the patches chapter")
    assert 'href="https://github.com/vitcourse/vitcourse"' in patches, "no repository button"


def test_equations_render_without_network(crawl, site_url, browser):
    """MathJax comes from the book itself (book/_ext/offline_mathjax.py), so with every other host
    unreachable the attention chapter's equations are typeset as SVG, not left as raw TeX."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(site_url + "notebooks/attention.html")
    typeset = "return document.querySelectorAll('mjx-container svg').length"
    WebDriverWait(browser, PAGE_TIMEOUT_S).until(lambda b: b.execute_script(typeset) > 0)
    count = browser.execute_script(typeset)
    raw = browser.execute_script(
        "return Array.from(document.querySelectorAll('.math')).filter("
        "e => !e.querySelector('mjx-container') && /\\\\[a-zA-Z]/.test(e.textContent)).length")
    assert count >= 5 and raw == 0, f"{count} typeset equations, {raw} left as raw TeX"


def test_pages_show_clean_code_within_the_page_width(crawl):
    """No page shows nbval marker comments or %config (set-up cells are hidden, nbval reads cell
    tags), and no code cell, output or code block needs a horizontal scrollbar."""
    if crawl.reader_problems:
        pytest.fail(f"{len(crawl.reader_problems)} problem(s) a reader sees:\n"
                    + "\n".join(crawl.reader_problems), pytrace=False)


def test_reader_checks_catch_a_bad_page(browser, book_build):
    """The checks above fail on a page that has each problem (a page built like the book's)."""
    css = "\n".join(p.read_text() for p in (book_build.html_dir / "_static").glob("*.css")
                     if p.name == "code-width.css")
    wide = "x = " + "1 + " * 60 + "1"
    page = (f"<html><head><style>{css}</style></head><body><div style='width: 500px'>"
            "<div class='cell_input'><div class='highlight'><pre>%config InlineBackend.figure_formats = []"
            "</pre></div></div>"
            "<div class='cell_input'><div class='highlight'><pre># NBVAL_IGNORE_OUTPUT\nx = 1</pre></div></div>"
            f"<div class='cell_input'><div class='highlight'><pre>{wide}</pre></div></div>"
            f"<div class='cell_output'><pre>{wide}</pre></div>"
            "</div></body></html>")
    browser.get("data:text/html;charset=utf-8," + urllib.parse.quote(page))
    found = browser.execute_script(_READER_JS)
    assert len(found) == 3, found  # the output wraps (as in Jupyter): only the three code problems
    assert any("%config" in f for f in found) and any("NBVAL" in f for f in found)
    assert any("scrollbar" in f for f in found)
