"""The three widgets of notebook 06 as a student sees them: JupyterLab in headless Chromium at 1400x900 with the
file browser open, the notebook run with Run All, then each widget checked for rendering, one interaction and layout.

Elements are found by the widgets' CSS classes (mnist-<widget>-<part>, see mnistlib/widgets/) and, where a class is
missing, by structure (the grid box inside the output, its buttons), so the same assertions run on older versions
of the widgets (MNISTLIB_BROWSER_REPO, see conftest.py). Screenshots land in tests/browser/screenshots/.
"""

import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

NOTEBOOK = "06_training_and_evaluation.ipynb"
RUN_ALL_TIMEOUT = 1200  # about a minute on a quiet 2-core machine; much more while other jobs share the cores
REACTION_TIMEOUT = 180  # a click's round trip through the kernel (the playground trains for a few seconds)

# The cell that builds each widget (found by its source), and how to find the widget's root in the output.
WIDGETS = {
    "gallery": ("digit_gallery(", ".mnist-gallery"),
    "playground": ("training_playground(", ".mnist-playground"),
    "sketch": ("sketch_pad(", ".mnist-sketch"),
}
ROOT_FALLBACK = ".widget-box"  # the outermost box of a widget without the classes

_RECT_JS = "const b = arguments[0].getBoundingClientRect(); return [b.left, b.top, b.width, b.height];"
# How far the widget's visible parts reach to the right of its output area's left edge, and who scrolls sideways.
_OVERFLOW_JS = """
const [output, root] = arguments;
const box = output.getBoundingClientRect();
let right = 0;
for (const e of [root, ...root.querySelectorAll('*')]) {
  const b = e.getBoundingClientRect();
  if (b.width > 0 && b.height > 0) right = Math.max(right, b.right - box.left);
}
return {right: right, width: box.width, outScroll: output.scrollWidth, outClient: output.clientWidth,
        rootScroll: root.scrollWidth, rootClient: root.clientWidth};
"""
# The window's height and that of the notebook area the widget scrolls in (what a student sees of it at once).
_VISIBLE_HEIGHT_JS = """
let e = arguments[0].parentElement;
while (e && !(['auto', 'scroll'].includes(getComputedStyle(e).overflowY) && e.scrollHeight > e.clientHeight)) {
  e = e.parentElement;
}
return [window.innerHeight, e ? e.clientHeight : window.innerHeight];
"""
_IMAGE_HASH_JS = """
const done = arguments[arguments.length - 1];
fetch(arguments[0].src).then(r => r.arrayBuffer()).then(buffer => {
  const bytes = new Uint8Array(buffer);
  let h = 0;
  for (let i = 0; i < bytes.length; i++) h = (h * 31 + bytes[i]) | 0;
  done([bytes.length, h]);
}, e => done(String(e)));
"""


def find(root, *locators):
    """The first element matching the first locator that matches: CSS selectors, or XPath when prefixed 'xpath:'."""
    for locator in locators:
        by, value = (By.XPATH, locator[6:]) if locator.startswith("xpath:") else (By.CSS_SELECTOR, locator)
        found = root.find_elements(by, value)
        if found:
            return found[0]
    raise AssertionError(f"none of {locators} found in the widget")


def rect(element):
    """(left, top, width, height) in CSS pixels of the viewport."""
    return element.parent.execute_script(_RECT_JS, element)


def text_after(page, element, previous, what):
    """Wait until ``element``'s text differs from ``previous`` and stays the same for a second; return it."""
    page.wait_for(lambda: element.text != previous, REACTION_TIMEOUT, what)
    last = None
    for _ in range(60):
        if (text := element.text) == last:
            break
        last = text
        time.sleep(1)
    return last


@pytest.fixture(scope="module")
def notebook(jupyterlab, driver, screenshot):
    """Notebook 06 open in JupyterLab with the file browser open, after Run All (one run for the whole module)."""
    page = jupyterlab.open(driver, NOTEBOOK)
    page.show_file_browser()
    seconds = page.run_all(timeout=RUN_ALL_TIMEOUT)
    print(f"Run All of {NOTEBOOK}: {seconds:.0f} s")
    return page


def widget_root(notebook, name):
    """The widget's outermost element, once it is drawn in the output of its cell."""
    area = notebook.output(WIDGETS[name][0])
    selectors = [WIDGETS[name][1], ROOT_FALLBACK]
    return notebook.wait_for(
        lambda: area.find_elements(By.CSS_SELECTOR, ", ".join(selectors)),
        REACTION_TIMEOUT,
        f"the {name} widget to be drawn",
    )[0]


def output_of(notebook, name):
    """The output (``.jp-OutputArea-output``) that holds widget ``name``: the width the widget has to fit in."""
    root = widget_root(notebook, name)
    return root.parent.execute_script("return arguments[0].closest('.jp-OutputArea-output');", root)


# --------------------------------------------------------------------------------------------------------------------
# Every widget: drawn, and within its output area
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(WIDGETS))
def test_widget_renders(notebook, screenshot, name):
    root = widget_root(notebook, name)
    area = notebook.output(WIDGETS[name][0])
    assert "Error displaying widget" not in area.text
    # A drawn widget replaces its text/plain repr; the repr showing means the widget manager did not draw it.
    fallback = area.find_elements(By.CSS_SELECTOR, ".jp-RenderedText[data-mime-type='text/plain']")
    assert not fallback, f"the {name} cell shows text instead of the widget: {fallback[0].text[:200]!r}"
    assert root.is_displayed() and rect(root)[3] > 50, f"the {name} widget is not visible: rect {rect(root)}"
    screenshot(f"page_{name}", scroll_to=root)
    screenshot(name, root)


@pytest.mark.parametrize("name", list(WIDGETS))
def test_widget_has_no_horizontal_overflow(notebook, driver, name):
    root = widget_root(notebook, name)
    output = output_of(notebook, name)
    m = driver.execute_script(_OVERFLOW_JS, output, root)
    numbers = (
        f"widget reaches {m['right']:.0f} px into an output {m['width']:.0f} px wide; scrollWidth/clientWidth: "
        f"output {m['outScroll']}/{m['outClient']}, widget {m['rootScroll']}/{m['rootClient']}"
    )
    print(name, numbers)
    assert m["outScroll"] <= m["outClient"] + 1, f"the output scrolls sideways: {numbers}"
    assert m["rootScroll"] <= m["rootClient"] + 1, f"the widget scrolls sideways: {numbers}"
    assert m["right"] <= m["width"] + 1, f"sticks out of its output: {numbers}"


# --------------------------------------------------------------------------------------------------------------------
# Digit gallery
# --------------------------------------------------------------------------------------------------------------------


def gallery_tiles(root):
    grid = find(root, ".mnist-gallery-grid", ".widget-gridbox")
    return grid, grid.find_elements(By.CSS_SELECTOR, ".mnist-gallery-tile") or grid.find_elements(By.XPATH, "./*")


def test_gallery_tiles_fit_the_output(notebook, screenshot):
    root = widget_root(notebook, "gallery")
    out_left, _, out_width, _ = rect(output_of(notebook, "gallery"))
    grid, tiles = gallery_tiles(root)
    grid_left, _, grid_width, _ = rect(grid)
    content_width = grid.get_property("scrollWidth")
    lefts_rights = [(rect(t)[0] - out_left, rect(t)[0] + rect(t)[2] - out_left) for t in tiles]
    outside = [i for i, (left, right) in enumerate(lefts_rights) if left < -1 or right > out_width + 1]
    print(
        f"gallery: {len(tiles)} tiles, grid content {content_width} px (box {grid_width:.0f} px) in an output "
        f"{out_width:.0f} px wide; tiles partly outside: {outside}"
    )
    assert len(tiles) == 20, f"expected a page of 20 tiles, found {len(tiles)}"
    assert content_width <= out_width + 1, f"the gallery grid is {content_width} px wide in a {out_width:.0f} px output"
    assert not outside, f"{len(outside)} of {len(tiles)} tiles are not fully inside the {out_width:.0f} px output"


def test_gallery_page_turn_and_class_filter_change_the_tiles(notebook, screenshot):
    root = widget_root(notebook, "gallery")
    grid, _ = gallery_tiles(root)
    first_page = grid.text
    find(root, ".mnist-gallery-next-button", "xpath:.//button[contains(., 'next')]").click()
    second_page = text_after(notebook, grid, first_page, "the gallery to show page 2")

    select = find(
        root, ".mnist-gallery-true-class select", "xpath:.//label[contains(., 'true class')]/following-sibling::select"
    )
    Select(select).select_by_visible_text("7")
    text_after(notebook, grid, second_page, "the gallery to show the true 7s")
    _, tiles = gallery_tiles(root)
    captions = [tile.text for tile in tiles]
    assert captions and all("true 7" in caption for caption in captions), f"filter 'true class 7' shows {captions}"
    screenshot("gallery_true_7", root)


# --------------------------------------------------------------------------------------------------------------------
# Training playground
# --------------------------------------------------------------------------------------------------------------------


def test_playground_train_with_a_changed_setting_redraws_the_curves(notebook, driver, screenshot):
    root = widget_root(notebook, "playground")
    plot = find(root, ".mnist-playground-plot", "img")
    before = driver.execute_async_script(_IMAGE_HASH_JS, plot)
    assert isinstance(before, list) and before[0] > 1000, f"no learning curves drawn before Train: {before}"

    epochs = find(
        root,
        ".mnist-playground-num-epochs",
        "xpath:.//div[contains(@class, 'widget-slider')][.//label[contains(., 'epochs')]]",
    )
    readout = find(epochs, ".widget-readout").text
    find(epochs, ".noUi-handle").send_keys(Keys.ARROW_LEFT)  # one step fewer epochs
    text_after(notebook, find(epochs, ".widget-readout"), readout, "the epochs slider to move")

    find(root, ".mnist-playground-train-button", "xpath:.//button[contains(., 'Train')]").click()
    after = notebook.wait_for(
        lambda: (h := driver.execute_async_script(_IMAGE_HASH_JS, plot)) != before and h,
        REACTION_TIMEOUT,
        "Train to redraw the learning curves",
    )
    assert isinstance(after, list) and after[0] > 1000, f"the curves image after Train is broken: {after}"
    screenshot("playground_after_train", root)


# --------------------------------------------------------------------------------------------------------------------
# Sketch pad
# --------------------------------------------------------------------------------------------------------------------


def sketch_cells(notebook, root):
    """(grid, its 784 cells), once all are drawn: the browser builds the 784 buttons after the rest of the pad."""

    def drawn():
        grids = root.find_elements(By.CSS_SELECTOR, ".mnist-sketch-cells, .widget-gridbox")
        cells = [] if not grids else grids[0].find_elements(By.CSS_SELECTOR, ".mnist-sketch-cell, button")
        return len(cells) == 28 * 28 and (grids[0], cells)

    return notebook.wait_for(drawn, REACTION_TIMEOUT, "the sketch pad's 784 cells to be drawn")


def test_sketch_pad_cells_are_square_and_the_pad_fits_the_window(notebook, driver):
    root = widget_root(notebook, "sketch")
    grid, cells = sketch_cells(notebook, root)
    (x0, y0, width, height), (x1, _, _, _), (_, y28, _, _) = rect(cells[0]), rect(cells[1]), rect(cells[28])
    _, _, grid_width, grid_height = rect(grid)
    pad_height = rect(root)[3]
    window, visible = driver.execute_script(_VISIBLE_HEIGHT_JS, root)
    numbers = (
        f"cell {width:.1f}x{height:.1f} px, {x1 - x0:.1f} px between columns and {y28 - y0:.1f} px between "
        f"rows; grid {grid_width:.0f}x{grid_height:.0f} px; pad {pad_height:.0f} px tall, notebook area {visible} px "
        f"(window {window} px)"
    )
    print("sketch pad:", numbers)
    assert abs(height / width - 1) <= 0.05, f"cells are not square: {numbers}"
    assert abs((y28 - y0) / (x1 - x0) - 1) <= 0.05, f"rows and columns are spaced differently: {numbers}"
    assert abs(grid_height / grid_width - 1) <= 0.05, f"the grid is not square: {numbers}"
    assert pad_height <= visible, f"the sketch pad does not fit in the notebook at once: {numbers}"


def test_sketch_pad_clicks_change_the_prediction(notebook, screenshot):
    root = widget_root(notebook, "sketch")
    prediction = find(
        root,
        ".mnist-sketch-prediction",
        "xpath:.//div[contains(@class, 'widget-html')][contains(., 'Prediction') or contains(., 'Draw')]",
    )
    shown = prediction.text
    find(root, ".mnist-sketch-clear-button", "xpath:.//button[contains(., 'Clear')]").click()
    cleared = text_after(notebook, prediction, shown, "Clear to empty the pad")
    _, cells = sketch_cells(notebook, root)
    for row in range(6, 22, 3):  # a vertical stroke down the middle
        cells[row * 28 + 14].click()
    drawn = text_after(notebook, prediction, cleared, "the prediction to update after the clicks")
    print(f"sketch pad: shown {shown!r}; cleared {cleared!r}; after a stroke {drawn!r}")
    assert "%" in drawn and "%" not in cleared, f"after Clear: {cleared!r}; after the clicks: {drawn!r}"
    screenshot("sketch_pad_stroke", root)
