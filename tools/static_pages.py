"""Static reveal.js slides (``make slides``) and HTML pages (``make html``) of the course notebooks, offline.

    python -m tools.static_pages slides [--out build/slides] [NOTEBOOK ...]
    python -m tools.static_pages html   [--out build/html]   [NOTEBOOK ...]

Each notebook becomes ``<name>.slides.html`` (nbconvert's SlidesExporter, the engine of
``jupyter nbconvert --to slides``) or ``<name>.html`` (HTMLExporter), plus an ``index.html`` with the title and
a one-line description of every notebook. Nothing is loaded from the network when a page is opened: the
templates in ``tools/templates/`` drop nbconvert's CDN scripts (require.js, jQuery, the widget manager, mermaid),
and the two libraries that are needed are copied beside the pages from installed Python packages:

- MathJax 2.7 from ``jupyter-server-mathjax`` (Jupyter's own offline MathJax) into ``mathjax/``;
- reveal.js 5 from ``sphinx-revealjs`` (which ships reveal.js' ``dist/`` and plugins) into ``reveal.js/``.

The output folder is self-contained (copy it to a USB stick, open ``index.html``) and is replaced only when the
whole build succeeded.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import jinja2
import nbformat
from nbconvert import HTMLExporter, SlidesExporter
from nbconvert.filters.markdown import markdown2html
from traitlets.config import Config

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = Path(__file__).resolve().parent / "templates"
DEFAULT_NOTEBOOKS = "notebooks/[0-9]*.ipynb"

# Where the offline copies come from (package, folder inside it) and where they go beside the pages.
MATHJAX_SOURCE = ("jupyter_server_mathjax", "static")
REVEAL_SOURCE = ("sphinx_revealjs", "_static/revealjs")
MATHJAX_DIR = "mathjax"
REVEAL_DIR = "reveal.js"
# The one combined configuration that jupyter-server-mathjax ships (TeX input, HTML-CSS output), plus Safe mode.
MATHJAX_URL = f"{MATHJAX_DIR}/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"

# Presentation settings shared by the static slides and by RISE (tools/notebook_metadata.py writes them into the
# notebooks). "white" is one of the two reveal.js themes whose fonts ship with it (no Google Fonts request).
SLIDE_THEME = "white"
SLIDE_TRANSITION = "none"
SLIDE_NUMBER = "c/t"
SLIDE_SCROLL = True
SLIDE_WIDTH, SLIDE_HEIGHT = 1200, 800

KINDS = {"slides": ".slides.html", "html": ".html"}


class BuildError(RuntimeError):
    """A page could not be built: a missing package, a missing notebook, two notebooks with the same name."""


@dataclass
class Entry:
    """One notebook on the index page."""

    href: str
    title_html: str
    description_html: str


def package_folder(package: str, inner: str) -> Path:
    """The folder ``inner`` of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    folder = Path(locations[0], inner) if locations else None
    if folder is None or not folder.is_dir():
        raise BuildError(
            f"{package} is not installed (needed for the offline {inner.split('/')[-1]} files): "
            "run `make install`, or `.venv/bin/pip install -r requirements.txt`"
        )
    return folder


def copy_assets(kind: str, out: Path) -> None:
    """Copy MathJax (both kinds) and reveal.js (slides) beside the pages."""
    shutil.copytree(package_folder(*MATHJAX_SOURCE), out / MATHJAX_DIR)
    if kind == "slides":
        reveal = package_folder(*REVEAL_SOURCE)
        skip = shutil.ignore_patterns("*.map", "*.esm.js")
        shutil.copytree(reveal / "dist", out / REVEAL_DIR / "dist", ignore=skip)
        shutil.copytree(reveal / "plugin" / "notes", out / REVEAL_DIR / "plugin" / "notes", ignore=skip)
        shutil.copy2(reveal / "LICENSE", out / REVEAL_DIR / "LICENSE")


def make_exporter(kind: str) -> HTMLExporter:
    """nbconvert's exporter for ``kind`` with the offline templates and local URLs."""
    c = Config()
    c.TemplateExporter.extra_template_basedirs = [str(TEMPLATES)]
    c.TemplateExporter.extra_template_paths = [str(TEMPLATES / "common")]
    c.HTMLExporter.mathjax_url = MATHJAX_URL
    c.HTMLExporter.embed_images = True  # markdown images become data: URIs; the page needs no image files
    # CDN defaults that the templates no longer use, emptied so that none can slip back in.
    for trait in ("require_js_url", "jquery_url", "mermaid_js_url", "mermaid_layout_elk_js_url"):
        setattr(c.HTMLExporter, trait, "")
    c.HTMLExporter.jupyter_widgets_base_url = ""
    if kind == "html":
        return HTMLExporter(config=c, template_name="course_html")
    c.SlidesExporter.reveal_url_prefix = REVEAL_DIR
    c.SlidesExporter.reveal_theme = SLIDE_THEME
    c.SlidesExporter.reveal_transition = SLIDE_TRANSITION
    c.SlidesExporter.reveal_number = SLIDE_NUMBER
    c.SlidesExporter.reveal_scroll = SLIDE_SCROLL
    c.SlidesExporter.reveal_width = str(SLIDE_WIDTH)
    c.SlidesExporter.reveal_height = str(SLIDE_HEIGHT)
    # No "In [3]:" prompts on a slide: the space goes to the code.
    c.SlidesExporter.exclude_input_prompt = True
    c.SlidesExporter.exclude_output_prompt = True
    return SlidesExporter(config=c, template_name="course_slides")


def _inline(markdown: str) -> str:
    """Markdown of one line -> HTML without the enclosing paragraph (math is left to MathJax)."""
    rendered = markdown2html(markdown).strip()
    return rendered[3:-4] if rendered.startswith("<p>") and rendered.endswith("</p>") else rendered


def describe(nb, path: Path) -> tuple[str, str]:
    """(title, description) in markdown: the first ``#`` heading, and ``metadata.description`` or the first
    sentence of the paragraph after the title."""
    first = next((cell.source for cell in nb.cells if cell.cell_type == "markdown"), "")
    title = next((line[2:].strip() for line in first.splitlines() if line.startswith("# ")), path.stem)
    description = nb.metadata.get("description", "")
    if not description:
        paragraphs = [p for p in re.split(r"\n\s*\n", first) if p.strip() and not p.lstrip().startswith("#")]
        text = " ".join(paragraphs[0].split()) if paragraphs else ""
        match = re.match(r"(.+?[.!?])(\s|$)", text)
        description = match.group(1) if match else text
    return title, description


def slide_type_warning(nb, path: Path) -> str | None:
    """A warning when cells carry no ``metadata.slideshow.slide_type`` (CONTRIBUTING.md, Slides)."""
    missing = sum(1 for cell in nb.cells if "slide_type" not in cell.metadata.get("slideshow", {}))
    if not missing:
        return None
    return (
        f"warning: {path}: {missing} of {len(nb.cells)} cells have no metadata.slideshow.slide_type; "
        "each one continues the slide before it (see CONTRIBUTING.md, Slides)"
    )


def write_index(kind: str, entries: list[Entry], out: Path) -> None:
    """``index.html``: one line per notebook, linking to its page."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([TEMPLATES / "common"]), autoescape=False, keep_trailing_newline=True
    )
    page = env.get_template("index_page.html.j2").render(
        heading="Slides" if kind == "slides" else "Notebooks",
        entries=entries,
        mathjax_url=MATHJAX_URL,
    )
    (out / "index.html").write_text(page, encoding="utf-8")


def resolve(notebooks: list[str | Path]) -> list[Path]:
    """The notebooks to build, checked: each exists, no two share a name (they would share an output file)."""
    paths = [Path(p) for p in notebooks]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise BuildError(f"no such notebook: {', '.join(missing)}")
    stems = [p.stem for p in paths]
    clashes = sorted({s for s in stems if stems.count(s) > 1})
    if clashes:
        raise BuildError(f"two notebooks with the same name would write the same page: {', '.join(clashes)}")
    if not paths:
        raise BuildError("no notebooks to build")
    return paths


def read_notebook(path: Path):
    """The notebook at ``path``; BuildError naming the file when it is not one."""
    try:
        return nbformat.read(path, as_version=4)
    except (ValueError, nbformat.ValidationError) as err:  # nbformat's NotJSONError is a ValueError
        raise BuildError(f"{path} is not a readable notebook: {err}") from err


def build_into(kind: str, paths: list[Path], folder: Path) -> list[str]:
    """Write every page, the assets and the index into ``folder``; return the warnings."""
    exporter = make_exporter(kind)
    entries, warnings = [], []
    for path in paths:
        nb = read_notebook(path)
        resources = {"metadata": {"name": path.stem, "path": str(path.parent.resolve())}}
        body, _ = exporter.from_notebook_node(nb, resources=resources)
        href = path.stem + KINDS[kind]
        (folder / href).write_text(body, encoding="utf-8")
        title, description = describe(nb, path)
        entries.append(Entry(href, _inline(title), _inline(description)))
        warning = slide_type_warning(nb, path) if kind == "slides" else None
        warnings += [warning] if warning else []
    copy_assets(kind, folder)
    write_index(kind, entries, folder)
    return warnings


def build(kind: str, notebooks: list[str | Path], out: str | Path) -> list[str]:
    """Build ``kind`` ("slides" or "html") of ``notebooks`` into ``out``, replacing it only on success.

    Returns the warnings (cells without slide metadata). Raises BuildError, or nbconvert's errors."""
    if kind not in KINDS:
        raise BuildError(f"unknown kind {kind!r}: expected one of {', '.join(KINDS)}")
    paths = resolve(notebooks)
    out = Path(out)
    partial = out.with_name(f".{out.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        warnings = build_into(kind, paths, partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    partial.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    return warnings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=sorted(KINDS))
    parser.add_argument("notebooks", nargs="*", help=f"default: {DEFAULT_NOTEBOOKS}")
    parser.add_argument("--out", help="output folder (default: build/<kind>)")
    args = parser.parse_intermixed_args(argv)
    notebooks = args.notebooks or sorted(ROOT.glob(DEFAULT_NOTEBOOKS))
    out = Path(args.out or ROOT / "build" / args.kind)
    try:
        warnings = build(args.kind, notebooks, out)
    except BuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for warning in warnings:
        print(warning, file=sys.stderr)
    print(f"wrote {len(notebooks)} {args.kind} pages and index.html into {out}; open {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
