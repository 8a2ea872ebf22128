"""Notebook-level metadata for lecture mode and the index pages: write it, or check it.

    python -m tools.notebook_metadata [NOTEBOOK ...]            # set metadata.rise (default notebooks/[0-9]*.ipynb)
    python -m tools.notebook_metadata --description "One line." NOTEBOOK   # and metadata.description
    python -m tools.notebook_metadata --check [NOTEBOOK ...]    # exit 1 if metadata.rise or a slide_type is missing

RISE (``jupyterlab-rise``, the slideshow button in JupyterLab) reads ``metadata.rise`` of a notebook over its
own defaults. The course's settings are those of the static slides (``make slides``, tools/static_pages.py):

- ``theme: white``: one of the two reveal.js themes whose fonts ship with it (RISE's default, ``simple``,
  fetches Google Fonts, which fails in a lecture room without internet);
- ``scroll: true``: a slide taller than the screen scrolls instead of being cut off;
- ``transition: none`` and ``slideNumber: c/t`` (current/total), as in the static slides.

``metadata.description`` is the one line under the notebook's title on the index pages of ``make slides`` and
``make html`` (without it, the first sentence after the title is used).

Only these two keys change; a notebook that already has them is not rewritten. The cells' own
``metadata.slideshow.slide_type`` is chosen by the notebook's author (CONTRIBUTING.md, Slides); ``--check``
reports the cells that have none.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from tools.static_pages import SLIDE_NUMBER, SLIDE_SCROLL, SLIDE_THEME, SLIDE_TRANSITION

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_NOTEBOOKS = "notebooks/[0-9]*.ipynb"
RISE_SETTINGS = {
    "theme": SLIDE_THEME,
    "transition": SLIDE_TRANSITION,
    "slideNumber": SLIDE_NUMBER,
    "scroll": SLIDE_SCROLL,
}


def problems(nb) -> list[str]:
    """What keeps ``nb`` from presenting as the course intends (empty when nothing)."""
    found = []
    rise = nb.metadata.get("rise", {})
    wrong = {key: value for key, value in RISE_SETTINGS.items() if rise.get(key) != value}
    if wrong:
        found.append(f"metadata.rise needs {wrong} (run python -m tools.notebook_metadata)")
    missing = [i for i, cell in enumerate(nb.cells) if "slide_type" not in cell.metadata.get("slideshow", {})]
    if missing:
        found.append(f"cells without metadata.slideshow.slide_type (CONTRIBUTING.md, Slides): {missing}")
    return found


def apply(path: Path, description: str | None = None) -> bool:
    """Set the RISE settings (and the description, if given) of one notebook; return whether the file changed."""
    nb = nbformat.read(path, as_version=4)
    wanted = {"rise": {**nb.metadata.get("rise", {}), **RISE_SETTINGS}}
    if description is not None:
        wanted["description"] = " ".join(description.split())
    if all(nb.metadata.get(key) == value for key, value in wanted.items()):
        return False
    nb.metadata.update(wanted)
    nbformat.write(nb, path)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help=f"default: {DEFAULT_NOTEBOOKS}")
    parser.add_argument("--check", action="store_true", help="only report; exit 1 when something is missing")
    parser.add_argument("--description", help="one line for the index pages (give one notebook)")
    args = parser.parse_intermixed_args(argv)
    paths = [Path(p) for p in args.notebooks] or sorted(ROOT.glob(DEFAULT_NOTEBOOKS))
    if args.description is not None and len(paths) != 1:
        parser.error("--description needs exactly one notebook")
    failed = False
    for path in paths:
        if args.check:
            for problem in problems(nbformat.read(path, as_version=4)):
                print(f"{path}: {problem}")
                failed = True
        else:
            print(f"{path}: {'metadata written' if apply(path, args.description) else 'already set'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
