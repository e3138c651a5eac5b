"""`etl report`: one self-contained page, checked as a file and in a real headless Chromium.

The browser tests open the page from file:// in Debian's Chromium (`apt-get install chromium`),
let its scripts run (`--virtual-time-budget`), and read the DOM the scripts left behind: the
page's own error box must be empty, every plot section must hold a drawn plotly SVG, and a
screenshot must show the plots' colours. Without plotly or Chromium these tests skip locally
with a hint, and fail when `CI` is set (`.ci/run` installs both).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from etl.warehouse import Warehouse
from tests.png import decode

INSTALL_PLOTLY = 'pip install -e ".[report]"'
INSTALL_CHROMIUM = "apt-get install chromium"
SECTIONS = ("negatives", "bands", "positives", "population", "probe", "categories", "rejects", "llm", "runs")
BAND_COLOURS = ("#4c9f70", "#e0a030", "#c8553d")  # easy, medium, hard bars


def _require(ok: bool, message: str) -> None:
    if not ok:
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"{message} (CI must run this test, so this is a failure, not a skip)", pytrace=False)
        pytest.skip(message)


@pytest.fixture
def plotly() -> None:
    """Skip (fail in CI) without the report extra."""
    try:
        import plotly  # noqa: F401
    except ImportError:
        _require(False, f"etl report needs plotly: run `{INSTALL_PLOTLY}`")


@pytest.fixture
def chromium(plotly: None) -> str:
    """The Chromium binary; skip (fail in CI) without one."""
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    _require(found is not None, f"the browser tests need Debian's Chromium: run `{INSTALL_CHROMIUM}`")
    return str(found)


@pytest.fixture
def full(etl, server, seeds, warehouse_path: Path) -> Path:
    """A warehouse with every kind of row: LLM calls, imported and synthesised pairs, triplets, rejects."""
    etl("synth", "--llm-url", server.url, "--seeds", str(seeds))
    etl("run", "--example")
    return warehouse_path


class Dom(HTMLParser):
    """The parts of a page the tests look at: sections, drawn SVGs, scripts, the status boxes."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.svgs: dict[str, int] = {}  # section key -> plotly main-svg elements inside it
        self.sections: list[str] = []
        self.empty: list[str] = []  # sections that say there is nothing to draw
        self.external: list[str] = []  # anything the page would fetch
        self.errors_text = ""
        self.status: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        if (tag in ("script", "img", "iframe") and attr.get("src")) or (tag == "link" and attr.get("href")):
            self.external.append(attr.get("src") or attr.get("href", ""))
        if tag == "section":
            self.sections.append(attr.get("data-plot", ""))
        section = next((a["data-plot"] for t, a in reversed(self.stack) if t == "section"), None)
        if section and tag == "svg" and "main-svg" in attr.get("class", "").split():
            self.svgs[section] = self.svgs.get(section, 0) + 1
        if section and tag == "p" and attr.get("class") == "empty":
            self.empty.append(section)
        if attr.get("id") == "render-status":
            self.status = attr
        if tag not in ("meta", "link", "br", "img", "input", "hr", "path", "rect", "line", "circle", "stop"):
            self.stack.append((tag, attr))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data: str) -> None:
        if any(a.get("id") == "page-errors" for _, a in self.stack):
            self.errors_text += data


def parse(text: str) -> Dom:
    dom = Dom()
    dom.feed(text)
    return dom


def browser(chromium: str, tmp_path: Path, page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium on a file:// page until its scripts are done (virtual time)."""
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.glob('chromium-profile-*')))}"
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=15000",
        "--enable-logging=stderr",
        "--v=0",
        *args,
        page.resolve().as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_report_on_the_example_is_one_self_contained_file(etl, full: Path, tmp_path: Path, plotly: None) -> None:
    out = etl("report", "--out", str(tmp_path / "report.html")).output
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    dom = parse(text)
    assert dom.sections == list(SECTIONS) and dom.empty == []
    assert dom.external == []  # plotly.js and every figure are inline
    assert dom.status["data-expected"] == str(len(SECTIONS))
    figures = {s: json.loads(s_json) for s, s_json in _figures(text).items()}
    assert set(figures) == {f"plot-{s}" for s in SECTIONS}
    with Warehouse.open(full, read_only=True) as wh:
        negatives = wh.scalar("SELECT count(*) FROM negatives")
        edges = sorted(
            {
                e
                for pair in json.loads(
                    wh.scalar("SELECT counts FROM runs WHERE run_id = (SELECT max(run_id) FROM triplets)")
                )["config"]["bands"].values()
                for e in pair
            }
        )
        calls = wh.scalar("SELECT count(*) FROM llm_calls")
    histogram = figures["plot-negatives"]
    assert sum(sum(trace["y"]) for trace in histogram["data"]) == negatives
    assert sorted(shape["x0"] for shape in histogram["layout"]["shapes"]) == edges
    llm = figures["plot-llm"]
    assert sum(sum(t["y"]) for t in llm["data"] if t.get("legendgroup") == "status") == calls > 0
    categories = figures["plot-categories"]
    with Warehouse.open(full, read_only=True) as wh:
        planned = dict(wh.execute("SELECT category, count(DISTINCT term) FROM category_terms GROUP BY 1").fetchall())
        sentences = wh.scalar("SELECT count(*) FROM parallel_sentences s JOIN category_terms c ON c.term = s.term_ko")
    bars = {trace["name"]: dict(zip(trace["x"], trace["y"])) for trace in categories["data"]}
    assert {c: bars["seeds"][c] + bars["expanded"][c] for c in bars["seeds"]} == planned
    assert sum(bars["sentences"].values()) == sentences > 0
    assert f"plots  {len(SECTIONS)}" in out


def _figures(text: str) -> dict[str, str]:
    """Each embedded figure's JSON by the id of the div it is drawn into."""
    found = {}
    marker = 'class="figure" data-target="'
    for part in text.split(marker)[1:]:
        target, rest = part.split('">', 1)
        found[target] = rest.split("</script>", 1)[0]
    return found


def test_an_empty_warehouse_gives_a_page_that_says_so(etl, created: Path, tmp_path: Path, plotly: None) -> None:
    etl("report", "--out", str(tmp_path / "report.html"))
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    dom = parse(text)
    assert dom.sections == list(SECTIONS) and dom.empty == list(SECTIONS)
    assert dom.status["data-expected"] == "0"
    assert "No synthesis plan yet" in text
    for phrase in ("No negatives yet", "No triplets yet", "No mine run yet", "No LLM calls", "No runs yet"):
        assert phrase in text


def test_members_per_band_come_from_anchor_bands(etl, full: Path, tmp_path: Path, plotly: None) -> None:
    from etl.steps import report as report_html
    from etl.steps.report import figures as report_figures

    with Warehouse.open(full, read_only=True) as wh:
        data = report_html.collect(wh)
        medians = dict(wh.execute("SELECT band, median(population) FROM anchor_bands GROUP BY band").fetchall())
        empty = dict(
            wh.execute("SELECT band, count(*) FILTER (WHERE population = 0) FROM anchor_bands GROUP BY band").fetchall()
        )
    section = report_figures.population(data)
    assert section.figure is not None and [t.name for t in section.figure.data] == ["easy", "medium", "hard"]
    for trace in section.figure.data:
        assert trace.median[0] == pytest.approx(max(float(medians[trace.name]), 0.5))
    assert [row[3] for row in section.table[1:]] == [f"{empty[b]:,}" for b in ("easy", "medium", "hard")]
    data.populations = []  # a mine run from before anchor_bands existed
    assert "not recorded" in report_figures.population(data).note


def test_without_plotly_the_command_says_what_to_install(etl, created: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "plotly", None)
    monkeypatch.setitem(sys.modules, "plotly.offline", None)
    result = etl("report", ok=False)
    assert result.exit_code == 1 and 'pip install -e ".[report]"' in result.output


def test_every_plot_renders_in_chromium_without_errors(etl, full: Path, tmp_path: Path, chromium: str) -> None:
    page = tmp_path / "report.html"
    etl("report", "--out", str(page))
    result = browser(chromium, tmp_path, page, "--dump-dom")
    dom = parse(result.stdout)
    assert dom.errors_text.strip() == ""
    assert dom.status.get("data-rendered") == dom.status["data-expected"] == str(len(SECTIONS))
    assert {s: dom.svgs.get(s, 0) > 0 for s in SECTIONS} == dict.fromkeys(SECTIONS, True)
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if "rror" in line or "Uncaught" in line], console


def test_the_empty_page_loads_without_errors_in_chromium(etl, created: Path, tmp_path: Path, chromium: str) -> None:
    page = tmp_path / "report.html"
    etl("report", "--out", str(page))
    dom = parse(browser(chromium, tmp_path, page, "--dump-dom").stdout)
    assert dom.errors_text.strip() == "" and dom.status.get("data-rendered") == "0"
    assert dom.empty == list(SECTIONS) and dom.svgs == {}


def test_the_screenshot_shows_the_plots(etl, full: Path, tmp_path: Path, chromium: str) -> None:
    page = tmp_path / "report.html"
    etl("report", "--out", str(page))
    shot = tmp_path / "report.png"
    browser(chromium, tmp_path, page, f"--screenshot={shot}", "--window-size=1280,2400")
    image = decode(shot.read_bytes())[:, :, :3]
    assert image.shape[:2] == (2400, 1280)
    pixels = image.reshape(-1, 3)
    colours, counts = np.unique(pixels, axis=0, return_counts=True)
    assert len(colours) > 100 and counts.max() < 0.95 * len(pixels)  # not one flat colour
    for colour in BAND_COLOURS:  # the bands' bars were drawn, each over a sizeable area
        rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.uint8)
        assert (pixels == rgb).all(axis=1).sum() > 5_000, colour


def test_figures_stay_legible(etl, full: Path, tmp_path: Path, plotly: None) -> None:
    """The LLM legend sits under its plots, small counts show on a log axis, labels that cannot fit hide, text columns align left."""
    etl("report", "--out", str(tmp_path / "report.html"))
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    figures = {key: json.loads(value) for key, value in _figures(text).items()}
    llm = figures["plot-llm"]["layout"]
    titles = [a["y"] for a in llm["annotations"]]  # the subplot titles sit above y = 1
    assert llm["legend"]["y"] < 0 and min(titles) >= 1
    assert figures["plot-positives"]["layout"]["yaxis"]["type"] == "log"
    assert figures["plot-bands"]["layout"]["uniformtext"] == {"minsize": 10, "mode": "hide"}
    runs = text.split('id="runs"', 1)[1].split("</table>", 1)[0]
    first_row = runs.split("<tr>")[2]
    cells = first_row.split("</td>")
    assert cells[0].startswith('<td class="num">')  # run id
    assert cells[1].startswith("<td>") and cells[2].startswith("<td>")  # step, status: text, left
