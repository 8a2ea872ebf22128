"""Offline slides and pages (``make slides``, ``make html``, tools/static_pages.py) and lecture-mode metadata.

Both builds run once per session into a temporary folder, over every course notebook and the fixture
``tests/fixtures/sample_exercises.ipynb`` (slide metadata, an equation). Every HTML page they write (the pages and
the index) must load nothing from the network: no remote ``src`` of a script, image or frame, no remote
stylesheet ``href``, no remote CSS ``url()`` or ``@import`` (in the page or in a stylesheet it loads, followed
recursively), no remote URL in an inline script; every local reference must exist beside the page. Plain
``<a href>`` links to web pages in the text are fine. (tests/browser/test_slides_browser.py checks in Chromium
that the math is rendered and that no request leaves the machine.)
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

from tools import notebook_metadata
from tools.static_pages import KINDS, BuildError, build, describe

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "sample_exercises.ipynb"
SOURCES = [FIXTURE, *sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))]
COURSE = SOURCES[1:]

# (tag, attribute) pairs that make a browser fetch something.
LOADING = {
    ("script", "src"),
    ("img", "src"),
    ("img", "srcset"),
    ("link", "href"),
    ("iframe", "src"),
    ("frame", "src"),
    ("embed", "src"),
    ("object", "data"),
    ("source", "src"),
    ("source", "srcset"),
    ("video", "src"),
    ("video", "poster"),
    ("audio", "src"),
    ("track", "src"),
    ("input", "src"),
    ("image", "href"),
    ("image", "xlink:href"),
}
CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
CSS_REFERENCE = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""")
URL_IN_SCRIPT = re.compile(r"""(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}""")


class References(HTMLParser):
    """Collects what a page loads: (description, URL) pairs, inline CSS text and inline script text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.loads, self.css, self.scripts = [], [], []
        self._in = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attributes.items():
            if (tag, name) in LOADING and value:
                urls = [part.split()[0] for part in value.split(",") if part.strip()] if "srcset" in name else [value]
                self.loads += [(f"<{tag} {name}>", url) for url in urls]
        if attributes.get("style"):
            self.css.append(attributes["style"])
        self._in = tag if tag in ("style", "script") and "src" not in attributes else None

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "style":
            self.css.append(data)
        elif self._in == "script":
            self.scripts.append(data)


def is_remote(url: str) -> bool:
    """True for anything a browser would fetch from another machine, or from an absolute path of this one."""
    parts = urlsplit(url.strip())
    return bool(parts.scheme not in ("", "data") or parts.netloc or url.strip().startswith("/"))


def css_references(text: str) -> list[str]:
    return [a or b for a, b in CSS_REFERENCE.findall(CSS_COMMENT.sub("", text))]


def local_target(base: Path, url: str) -> Path | None:
    """The file a relative URL points to (None for a fragment or a data: URI)."""
    parts = urlsplit(url)
    if parts.scheme == "data" or not parts.path:
        return None
    return (base / unquote(parts.path)).resolve()


def offending(page: Path) -> list[str]:
    """Every remote resource of ``page`` and every local one that does not exist (stylesheets followed)."""
    parser = References()
    parser.feed(page.read_text(encoding="utf-8"))
    problems = [f"{what} {url}" for what, url in parser.loads if is_remote(url)]
    problems += [f"inline script mentions {m}" for text in parser.scripts for m in URL_IN_SCRIPT.findall(text)]
    pending = [(page.parent, url, "page") for what, url in parser.loads if not is_remote(url)]
    pending += [(page.parent, url, "inline CSS") for css in parser.css for url in css_references(css)]
    seen = set()
    while pending:
        base, url, where = pending.pop()
        if is_remote(url):
            problems.append(f"{where}: CSS reference {url}")
            continue
        target = local_target(base, url)
        if target is None or target in seen:
            continue
        seen.add(target)
        if not target.is_file():
            problems.append(f"{where}: {url} does not exist ({target})")
        elif target.suffix == ".css":
            text = target.read_text(encoding="utf-8", errors="replace")
            pending += [(target.parent, ref, target.name) for ref in css_references(text)]
    return problems


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """{kind: output folder} of both builds (about 15 s together)."""
    folders = {}
    for kind in KINDS:
        folders[kind] = tmp_path_factory.mktemp("build") / kind
        build(kind, SOURCES, folders[kind])
    return folders


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_build_writes_a_page_per_notebook_and_an_index(built, kind):
    folder = built[kind]
    pages = sorted(p.name for p in folder.glob("*.html") if p.name != "index.html")
    assert pages == sorted(path.stem + KINDS[kind] for path in SOURCES)
    index = (folder / "index.html").read_text(encoding="utf-8")
    for path in SOURCES:
        title, description = describe(nbformat.read(path, as_version=4), path)
        assert f'href="{path.stem}{KINDS[kind]}"' in index
        assert description, (
            f"{path.name}: no description for the index: python -m tools.notebook_metadata --description"
        )
    assert "A sample notebook for the build tools" in index
    assert "Two exercises, one equation and slide metadata" in index


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_pages_load_nothing_from_the_network(built, kind):
    pages = sorted(built[kind].glob("*.html"))
    assert len(pages) == len(SOURCES) + 1
    problems = {page.name: found for page in pages if (found := offending(page))}
    assert not problems, problems


def test_slides_use_the_local_reveal_and_mathjax_with_scrolling(built):
    page = (built["slides"] / f"{FIXTURE.stem}.slides.html").read_text(encoding="utf-8")
    assert '<script src="reveal.js/dist/reveal.js"></script>' in page
    assert '<script src="mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"></script>' in page
    assert 'href="reveal.js/dist/theme/white.css"' in page
    assert "overflow-y: auto" in page  # SlidesExporter.reveal_scroll
    assert '<aside class="notes">' in page  # the speaker-notes cell


def test_offending_finds_remote_resources(tmp_path):
    """The checker itself: each kind of remote load is reported, links in the text are not."""
    (tmp_path / "local.css").write_text("@import url(https://fonts.example.org/x.css); p { color: red }")
    page = tmp_path / "page.html"
    page.write_text(
        '<html><head><script src="https://cdn.example.org/a.js"></script>'
        '<link rel="stylesheet" href="local.css"><link rel="stylesheet" href="//cdn.example.org/b.css">'
        '<style>/* https://in.a.comment */ body { background: url("http://example.org/bg.png") }</style>'
        "<script>var s = document.createElement('script'); s.src = 'https://unpkg.com/x';</script></head>"
        '<body><img src="/usr/share/pic.png"><a href="https://example.org/read-more">a link</a>'
        '<img src="missing.png"><img src="data:image/png;base64,AAAA"></body></html>'
    )
    problems = offending(page)
    expected = ["cdn.example.org/a.js", "fonts.example.org/x.css", "//cdn.example.org/b.css", "example.org/bg.png"]
    expected += ["unpkg.com", "/usr/share/pic.png", "missing.png does not exist"]
    for needle in expected:
        assert any(needle in problem for problem in problems), (needle, problems)
    assert not any("read-more" in problem or "in.a.comment" in problem for problem in problems)
    assert len(problems) == len(expected)


def test_failed_build_keeps_the_previous_output(tmp_path):
    out = tmp_path / "slides"
    build("slides", [FIXTURE], out)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{ this is not a notebook")
    with pytest.raises(BuildError, match="broken.ipynb is not a readable notebook"):
        build("slides", [FIXTURE, broken], out)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert not list(tmp_path.glob(".slides.*")), "a partial build was left behind"
    with pytest.raises(BuildError, match="no such notebook"):
        build("slides", [tmp_path / "nowhere.ipynb"], out)


@pytest.mark.parametrize("path", COURSE, ids=[p.name for p in COURSE])
def test_slide_metadata_is_complete(path):
    """Every course notebook carries slide metadata on every cell, and the RISE settings (CONTRIBUTING.md, Slides).

    A notebook that lost all of it (saved by a tool that drops cell metadata) fails here too: it used to be skipped
    as "not converted yet", which every notebook now is."""
    nb = nbformat.read(path, as_version=4)
    assert notebook_metadata.problems(nb) == [], f"{path.name}: fix with python -m tools.notebook_metadata {path}"


def test_fixture_has_complete_slide_metadata():
    assert notebook_metadata.problems(nbformat.read(FIXTURE, as_version=4)) == []


def test_index_description_is_the_metadata_or_the_first_sentence():
    nb = nbformat.read(FIXTURE, as_version=4)
    title, description = describe(nb, FIXTURE)
    assert title == "00 · A sample notebook for the build tools"
    assert description == (
        "Two exercises, one equation and slide metadata: the smallest notebook that exercises `make student`, "
        "`make slides` and `make html` (tests/test_student.py, tests/test_site.py)."
    )
    nb.metadata["description"] = "One line chosen by the author."
    assert describe(nb, FIXTURE) == (title, "One line chosen by the author.")
