"""The offline slides and pages in headless Chromium, opened from disk (file://) as a student opens them.

The fixture notebook (tests/fixtures/sample_exercises.ipynb) is built with tools/static_pages.py into a
temporary folder; its second slide holds inline math and a displayed equation. The tests check that MathJax
rendered them (MathJax output present, no "Math Processing Error", no ``$...$`` or TeX source left on the
screen) with its own web font, that no request left the machine, and that a slide taller than the screen
scrolls. Lecture mode live: the same notebook presented by RISE in the harness's JupyterLab, with the course's
settings from its metadata, again offline. Screenshots in tests/browser/screenshots/: slides_equation.png,
html_equation.png, rise_equation.png.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from tools.static_pages import SLIDE_HEIGHT, build

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "sample_exercises.ipynb"
EQUATION_SLIDE = "#/1"  # reveal.js hash of the second slide, "The mean squared error"
RAW_TEX = re.compile(r"\$[^$]+\$|\\frac|\\sum|\\hat")

# Resolves once MathJax has typeset the page (its queue runs callbacks in order).
_MATHJAX_DONE = """
const done = arguments[arguments.length - 1];
const start = Date.now();
(function wait() {
  if (window.MathJax && MathJax.isReady) { MathJax.Hub.Queue(() => done(true)); }
  else if (Date.now() - start > 30000) { done(false); }
  else { setTimeout(wait, 100); }
})();
"""
_MATH_STATE = """
const root = arguments[0] || document.body;
const jax = MathJax.OutputJax["HTML-CSS"] || {};
return {
  rendered: root.querySelectorAll(".MathJax, .MathJax_Display").length,
  displayed: root.querySelectorAll(".MathJax_Display").length,
  errors: root.querySelectorAll(".MathJax_Error, merror").length,
  font: jax.fontInUse || null,
  webFonts: !!jax.webFonts,
  remote: performance.getEntriesByType("resource").map(e => e.name).filter(n => !n.startsWith("file:")),
  fonts: [...document.fonts].filter(f => f.family.includes("STIX")).map(f => f.family + ": " + f.status),
};
"""


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """{kind: path of the fixture's page}, built from the fixture notebook (a few seconds)."""
    folder = tmp_path_factory.mktemp("pages")
    build("slides", [FIXTURE], folder / "slides")
    build("html", [FIXTURE], folder / "html")
    return {
        "slides": folder / "slides" / f"{FIXTURE.stem}.slides.html",
        "html": folder / "html" / f"{FIXTURE.stem}.html",
    }


def _open(driver, url):
    driver.get(url)
    assert driver.execute_async_script(_MATHJAX_DONE), f"MathJax did not finish within 30 s on {url}"
    time.sleep(0.5)  # the slide transition and MathJax's re-render of the shown slide


def _assert_math_rendered(state, text, where):
    assert state["rendered"] >= 4 and state["displayed"] >= 1, f"{where}: MathJax output missing: {state}"
    assert state["errors"] == 0 and "Math Processing Error" not in text, f"{where}: MathJax errors: {state}"
    assert not RAW_TEX.search(text), f"{where}: TeX source visible: {RAW_TEX.search(text).group(0)!r}"
    loaded = [font for font in state["fonts"] if font.endswith(": loaded")]
    failed = [font for font in state["fonts"] if font.endswith(": error")]
    assert state["font"] == "STIX-Web" and loaded and not failed, f"{where}: MathJax's web fonts did not load: {state}"
    assert state["remote"] == [], f"{where}: requests that left the machine: {state['remote']}"


def test_slide_with_an_equation_shows_rendered_math(driver, screenshot, pages):
    _open(driver, pages["slides"].as_uri() + EQUATION_SLIDE)
    slide = driver.execute_script("return Reveal.getCurrentSlide();")
    assert "The mean squared error" in slide.text
    screenshot("slides_equation")
    _assert_math_rendered(driver.execute_script(_MATH_STATE, slide), slide.text, "slide 2")


def test_tall_slide_scrolls(driver, pages):
    """SlidesExporter.reveal_scroll: a slide taller than the screen keeps the slide's height and scrolls."""
    _open(driver, pages["slides"].as_uri() + EQUATION_SLIDE)
    sizes = driver.execute_script(
        "const slide = Reveal.getCurrentSlide();"
        "const filler = document.createElement('div'); filler.style.height = '3000px'; slide.appendChild(filler);"
        "Reveal.layout();"
        "return [slide.clientHeight, slide.scrollHeight, getComputedStyle(slide).overflowY];"
    )
    client, scroll, overflow = sizes
    assert overflow == "auto" and client <= SLIDE_HEIGHT < scroll, sizes


def test_html_page_shows_rendered_math(driver, screenshot, pages):
    _open(driver, pages["html"].as_uri())
    heading = driver.execute_script(
        "return [...document.querySelectorAll('h2')].find(h => h.textContent.includes('mean squared error'));"
    )
    cell = driver.execute_script("arguments[0].scrollIntoView(); return arguments[0].closest('.jp-Cell');", heading)
    screenshot("html_equation")
    _assert_math_rendered(driver.execute_script(_MATH_STATE, cell), cell.text, "HTML page")


def test_rise_presents_the_notebook_offline_with_the_course_settings(driver, screenshot, jupyterlab):
    """RISE (jupyterlab-rise) in JupyterLab: the slideshow starts, reads metadata.rise, renders the math, and
    fetches nothing from outside the local server (RISE's default theme would ask Google Fonts)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    shutil.copy2(FIXTURE, jupyterlab.root_dir / FIXTURE.name)
    driver.get(f"{jupyterlab.url}rise/{FIXTURE.name}?token={jupyterlab.token}")
    deadline = time.monotonic() + 120
    while not driver.execute_script("return !!document.querySelector('.reveal.ready');"):
        assert time.monotonic() < deadline, f"RISE did not start within 120 s:\n{jupyterlab.log_tail()}"
        time.sleep(0.5)
    ActionChains(driver).send_keys(Keys.ARROW_RIGHT).perform()
    time.sleep(2)  # MathJax typesets the slide as it is shown
    state = driver.execute_script(
        "const slide = document.querySelector('.reveal .slides section.present section.present')"
        " || document.querySelector('.reveal .slides section.present');"
        "return {text: slide.innerText, math: slide.querySelectorAll('mjx-container').length,"
        " classes: document.querySelector('.reveal').className,"
        " number: (document.querySelector('.reveal .slide-number') || {}).textContent || '',"
        " remote: performance.getEntriesByType('resource').map(e => e.name)"
        "   .filter(n => !n.startsWith(location.origin) && !n.startsWith('data:'))};"
    )
    screenshot("rise_equation")
    assert "the mean squared error" in state["text"].lower() and state["math"] >= 4, state
    assert not RAW_TEX.search(state["text"]), state["text"]
    assert " none " in f" {state['classes']} " and "".join(state["number"].split()) == "2/5", state  # metadata.rise
    assert state["remote"] == [], state["remote"]
