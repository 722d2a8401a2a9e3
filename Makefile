# Each target creates the virtual environment it needs (python3 -m venv + pip install).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-dev

.PHONY: demo test bench bench-serve serve eval eval-elements check-corpus clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The main job on the bundled example clues with the default model (trained on first use).
demo: $(STAMP)
	@mkdir -p out
	$(PY) classify.py examples/clues.csv -o out/示例结果.xlsx
	$(PY) classify.py examples/clues.csv -o out/示例结果.csv
	$(PY) classify.py --text "2024年3月，某县住建局对群众反映的小区违建问题三个月不予处理，多次投诉无人答复。"

test: $(STAMP)
	$(PY) -m pytest

# The 受理台 (web page + HTTP API) on http://127.0.0.1:8000 (ARGS=--port 8080 ... to change).
serve: $(STAMP)
	$(PY) serve.py $(ARGS)

check-corpus: $(STAMP)
	$(PY) -m nlp.corpus check

bench: $(STAMP)
	$(PY) bench/bench_classify.py
	$(PY) bench/bench_train.py

bench-serve: $(STAMP)
	$(PY) bench/bench_serve.py $(ARGS)

# The evaluation protocol (nlp/protocol.py): cross-writer, grouped folds, leave-voice-out, names, fragments.
# ARGS="--settings default,svm-raw-nocue-C1 --parts cross_writer,names" to choose.
eval: $(STAMP)
	$(PY) bench/eval_protocol.py $(ARGS)

# Element extraction: trained tagger vs regex, case-grouped cross-validation, and its cost per clue.
eval-elements: $(STAMP)
	$(PY) bench/eval_elements.py $(ARGS)

clean:
	rm -rf $(VENV) out bench/out
