"""leaderboard.html: what the Markdown says, on one self-contained page, checked as text and in a real browser.

The browser test drives headless Chromium through Selenium and ChromeDriver (Debian: chromium, chromium-driver).
It is skipped, saying why, where they are not installed; its screenshot is kept in pytest's temporary folder.
"""

import csv
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from synthetic_runs import REPORTED, N, write_run

from benchmark.dataset import Reported
from benchmark.report.leaderboard import write_leaderboard

CHINESE = ["财经", "房产", "股票", "体育"]
FIGURES = [*REPORTED, ("thucnews", Reported("gamma", 80.0, "mini", "a paper"))]


def _results(folder: Path) -> Path:
    """Three backbones on Chinese labels, one of them deterministic, a smoke run, an untrained run, a bad file."""
    gold = np.arange(N) % len(CHINESE)
    common = {"labels": CHINESE, "gold": gold}
    for seed, wrong in ((1, range(8)), (2, range(12))):
        write_run(folder, f"alpha-{seed}", backbone="alpha", seed=seed, wrong=wrong, eval_speed=500.0, **common)
    for seed in (1, 2):
        write_run(folder, f"tfidf-{seed}", backbone="tfidf", seed=seed, wrong=range(40), eval_speed=9000.0, **common)
    write_run(folder, "gamma-1", backbone="gamma", seed=1, wrong=range(20), eval_speed=2000.0, **common)
    write_run(folder, "smoke", backbone="alpha", seed=1, wrong=range(60), protocol="smoke", smoke=True, **common)
    write_run(folder, "untrained", backbone="lazy", seed=1, wrong=range(3), global_step=0, **common)
    (folder / "broken").mkdir()
    (folder / "broken" / "metrics.json").write_text("{ not json", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    results = _results(tmp_path_factory.mktemp("results"))
    write_leaderboard(results, reported=FIGURES)
    return results


class _Page(HTMLParser):
    """The page's visible text, and every address it refers to."""

    def __init__(self):
        super().__init__()
        self.text, self.addresses, self.tags = [], [], []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._skip += tag in ("script", "style")
        self.addresses += [value for name, value in attrs if name in ("src", "href")]

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style")

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def _parse(results: Path) -> _Page:
    parsed = _Page()
    parsed.feed((results / "leaderboard.html").read_text(encoding="utf-8"))
    return parsed


def test_the_page_says_everything_the_markdown_table_says(page):
    text = " ".join(" ".join(_parse(page).text).split())
    rows = list(csv.DictReader((page / "leaderboard.csv").open(encoding="utf-8")))
    assert {row["backbone"] for row in rows} == {"alpha", "tfidf", "gamma"}
    for row in rows:
        assert f"{100 * float(row['accuracy_mean']):.2f}" in text
        assert f"{100 * float(row['accuracy_ci_low']):.2f}, {100 * float(row['accuracy_ci_high']):.2f}" in text
    for phrase in (
        "thucnews · mini · test file aaaaaaaa",
        "Every pair (McNemar, Holm-adjusted)",
        "What this test set can resolve:",
        "Reproduction check against published figures",
        "(deterministic)",
        "Not ranked",
        "nothing was trained",
        "Smoke runs (pipeline checks, not benchmarks)",
        "Reported, not measured here",
        "course figure",
        "Skipped files",
        "broken/metrics.json",
        *CHINESE,
    ):
        assert phrase in text, phrase


def test_the_page_is_self_contained(page):
    parsed = _parse(page)
    html = (page / "leaderboard.html").read_text(encoding="utf-8")
    assert "link" not in parsed.tags and not re.search(r"<script[^>]+src=", html)
    for address in parsed.addresses:
        assert not re.match(r"[a-z]+://|//", address), f"fetches from elsewhere: {address}"
        if not address.startswith("#"):
            assert (page / address.split("#")[0]).is_file(), f"links to a missing file: {address}"
    images = [a for a in parsed.addresses if a.endswith(".png")]
    # The cost and per-class plots, then a confusion matrix and curves per row: 3 rows.
    assert len(images) == 2 + 2 * 3
    # Each row's details name the plots, the per-class F1 and the error analysis.
    assert html.count('<tr class="details" hidden>') == 3 and html.count("Most confident mistakes") == 3


def test_the_page_is_byte_stable(page):
    before = (page / "leaderboard.html").read_bytes()
    write_leaderboard(page, reported=FIGURES)
    assert (page / "leaderboard.html").read_bytes() == before


def test_text_from_run_files_cannot_inject_markup(tmp_path):
    write_run(tmp_path, "x", backbone="<script>alert(1)</script>", seed=1, wrong=range(3), texts=["<b>粗</b>"] * N)
    write_leaderboard(tmp_path, reported=[])
    html = (tmp_path / "leaderboard.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>粗</b>" not in html and "&lt;b&gt;粗&lt;/b&gt;" in html


# ---------------------------------------------------------------- in a real browser


def _browser(tmp_path: Path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    binary = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    driver = shutil.which("chromedriver")
    if binary is None or driver is None:
        pytest.skip("no headless Chromium and ChromeDriver here (Debian: apt-get install chromium chromium-driver)")
    options = Options()
    options.binary_location = binary
    # No network here: the background services would only fail to connect.
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1800",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)


def _column(table, header: str) -> list[str]:
    headers = [th.text.strip() for th in table.find_elements("css selector", ":scope > thead th")]
    index = headers.index(header)
    # Only this table's rows: an opened row's details hold tables of their own.
    rows = table.find_elements("css selector", ":scope > tbody > tr:first-child")
    return [row.find_elements("css selector", "td")[index].text.strip() for row in rows if row.is_displayed()]


def test_in_a_real_browser_columns_sort_rows_open_and_the_filter_hides(page, tmp_path):
    browser = _browser(tmp_path)
    try:
        browser.get((page / "leaderboard.html").as_uri())
        body = browser.find_element("tag name", "body").text
        assert "Leaderboard" in body and "thucnews · mini · test file aaaaaaaa" in body
        assert "Reported, not measured here" in body and "财经" in body
        table = browser.find_element("css selector", "section[id^='thucnews-mini'] table.sortable")
        assert _column(table, "backbone") == ["alpha", "gamma", "tfidf"]  # as ranked

        accuracy = next(
            th for th in table.find_elements("css selector", ":scope > thead th") if th.text.startswith("accuracy (%)")
        )
        accuracy.click()
        assert _column(table, "backbone") == ["tfidf", "gamma", "alpha"], "ascending accuracy"
        accuracy.click()
        assert _column(table, "backbone") == ["alpha", "gamma", "tfidf"], "descending accuracy"
        next(
            th for th in table.find_elements("css selector", ":scope > thead th") if th.text.startswith("backbone")
        ).click()
        assert _column(table, "backbone") == ["alpha", "gamma", "tfidf"]

        details = table.find_elements("css selector", ":scope > tbody > tr.details")
        assert not any(d.is_displayed() for d in details)
        table.find_elements("css selector", ":scope > tbody > tr.opens")[1].click()
        opened = [d for d in details if d.is_displayed()]
        assert len(opened) == 1 and "Most confused classes" in opened[0].text
        images = opened[0].find_elements("tag name", "img")
        assert len(images) == 2
        # The plots are linked relatively and load from the results folder.
        assert all(browser.execute_script("return arguments[0].naturalWidth", img) > 0 for img in images)

        screenshot = tmp_path / "leaderboard.png"
        browser.save_screenshot(str(screenshot))
        assert screenshot.stat().st_size > 10_000
        print(f"screenshot: {screenshot}")

        browser.find_element("id", "filter").send_keys("gam")
        assert _column(table, "backbone") == ["gamma"]
    finally:
        browser.quit()
