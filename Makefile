# Two commands run everything (see README.md):
#   make course   create .venv, install, open JupyterLab on notebooks/
#   make test     create .venv, install, run the unit tests and nbval over every notebook
# Others:
#   make notebooks   re-execute every notebook top to bottom in a fresh kernel and save the outputs
#   make bench       run every benchmark script in benchmarks/
# Instructors (tools/; NB= works for these too):
#   make student     the student version in student/: solutions replaced by stubs, outputs cleared (nbgrader);
#                    a notebook edited since it was generated is kept unless FORCE=1 (which keeps a .bak)
#   make slides      offline reveal.js slides in build/slides/ (open build/slides/index.html)
#   make html        offline HTML pages in build/html/ (open build/html/index.html)
# Students:
#   make exercises   make student, then JupyterLab on student/ (your edits there are never overwritten)
# All targets are idempotent: the install step reruns only when requirements.txt or pyproject.toml change.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# The same BLAS thread count for every run, so that stored notebook outputs are stable.
export OMP_NUM_THREADS      ?= 2
export OPENBLAS_NUM_THREADS ?= 2
export MKL_NUM_THREADS      ?= 2
# Stored notebooks carry no progress bars (the tests run with the same setting; see conftest.py).
notebooks: export MNISTLIB_PROGRESS = 0
# ... and a matplotlib font cache of this environment's own (see conftest.py).
notebooks: export MPLCONFIGDIR ?= $(abspath $(VENV))/mnistlib-matplotlib
# Notebooks draw inline; a backend inherited from the shell must not leak into the kernels.
unexport MPLBACKEND

.PHONY: course test notebooks bench install clean reset student slides html exercises

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.10 or newer is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 10) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# Jupyter refuses to start as root (Docker, many cloud VMs) without --allow-root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)

course: $(STAMP)
	$(BIN)/jupyter lab $(ROOT_FLAG) notebooks/

test: $(STAMP)
	$(BIN)/python -m pytest

# One notebook: make notebooks NB=notebooks/03_softmax_overflow.ipynb
NB ?= notebooks/[0-9]*.ipynb
notebooks: $(STAMP)
	$(BIN)/python -c 'import matplotlib.font_manager'  # a font cache built now is not reported in a notebook
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=600 --ExecutePreprocessor.store_widget_state=False $(NB)

# Throw away local changes to the notebooks (opening and saving one rewrites its metadata) and get the
# pristine, committed versions back. Work on copies (make student) to keep your own.
reset:
	git checkout -- notebooks/

student: $(STAMP)
	$(BIN)/python -m tools.student_version $(if $(FORCE),--force) $(NB)

slides: $(STAMP)
	$(BIN)/python -m tools.static_pages slides $(NB)

html: $(STAMP)
	$(BIN)/python -m tools.static_pages html $(NB)

exercises: student
	$(BIN)/jupyter lab $(ROOT_FLAG) student/

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
