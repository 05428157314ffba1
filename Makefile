# The course in two commands:
#   make lab    set up .venv (first time: a few minutes) and open JupyterLab on notebooks/
#   make test   set up .venv, then run the unit tests and every lesson under nbval
#
# Other targets: test-unit, test-notebooks, test-gpu, test-browser, exercises, grade, notebooks, benchmark, run-lessons, clean-cache.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
LAB_ARGS ?=
NB ?= notebooks
# The preset: `make lab` lets mmcourse choose (gpu on a CUDA machine, else cpu; MMCOURSE_PRESET overrides);
# the tests and `make notebooks` pin cpu unless MMCOURSE_PRESET is set (conftest.py, tools/execute_notebooks.py).
# Jupyter refuses to start as root (containers, CI) unless told so explicitly
ALLOW_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: help venv lab test test-unit test-notebooks test-gpu test-browser exercises grade notebooks benchmark run-lessons clean-cache lab-check

help:
	@sed -n '1,6p' Makefile | sed 's/^# \{0,1\}//'

venv:
	@PYTHON=$(PYTHON) VENV=$(VENV) bash tools/setup_venv.sh

lab: venv
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --config=tools/jupyter_lab_config.py $(ALLOW_ROOT) $(LAB_ARGS)

test: venv test-unit test-notebooks

test-unit: venv
	$(PY) -m pytest tests -m "not browser" -q

test-notebooks: venv
	$(PY) -m pytest $(NB) --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -q

# every lesson under nbval with the gpu preset (needs a CUDA GPU; says so plainly when there is none)
test-gpu: venv
	@$(PY) tools/require_cuda.py
	MMCOURSE_PRESET=gpu $(PY) -m pytest $(NB) --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -q

test-browser: venv
	bash tools/setup_browser.sh
	$(PY) -m pytest tests/browser -m browser -q

lab-check: venv
	$(PY) tools/lab_check.py

# Teaching (README, "Teaching with it"): learners' copies with nbgrader, then grading a class.
#   make exercises [COURSE=<folder>]   exercises/ (and, with COURSE, an nbgrader course folder kept there)
#   make grade SUBMISSIONS=<folder> [GRADES=grades] [TIME_LIMIT=600]   grades/grades.csv
COURSE ?=
SUBMISSIONS ?=
GRADES ?= grades
TIME_LIMIT ?= 600

exercises: venv
	$(PY) -m mmcourse.exercises --src notebooks --out exercises $(if $(COURSE),--course "$(COURSE)")

grade: venv
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=<folder: one sub-folder or notebook per learner> [GRADES=grades] [TIME_LIMIT=600]" >&2; exit 2; }
	MMCOURSE_GRADING=1 $(PY) -m mmcourse.grading "$(SUBMISSIONS)" --lessons notebooks --out "$(GRADES)" --time-limit $(TIME_LIMIT)

notebooks: venv
	$(PY) tools/execute_notebooks.py

# how fast the world generates, then how fast each lesson's main model trains (samples/s, cpu preset unless MMCOURSE_PRESET is set)
benchmark: venv
	$(PY) tools/benchmark_world.py
	$(PY) tools/benchmark_training.py

# every lesson's code cells as one plain script each (no Jupyter); logs and summary.json in .test-artifacts/run-lessons
run-lessons: venv
	$(PY) tools/run_lessons.py

clean-cache:
	rm -rf data/cache
