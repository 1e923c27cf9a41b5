# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv if it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Where a CPU build of torch lies on disk (CI and the project's machines); harmless elsewhere.
WHEELS := $(wildcard /opt/wheels)
PIP_FLAGS := $(if $(WHEELS),--find-links $(WHEELS),)

.PHONY: demo test test-slow screenshots install lint typecheck bench bench-heads bench-hostile eval eval-public train clean

$(BIN)/classmod: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(PIP_FLAGS) -e '.[test]'
	touch $(BIN)/classmod

install: $(BIN)/classmod

demo: install
	$(BIN)/classmod demo

# The suite runs on every core (pytest-xdist); TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= auto

test: install
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$status

# What `make test` skips (the kill tests' extra runs, the rarer engine-cache damage cases, the browser
# tests); CI runs both.
test-slow: install
	$(BIN)/python -m pytest -q -m slow; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no slow tests"; exit 1; fi; exit $$status

# The README's screenshots of the web console, taken by its browser tests (Chromium: see the README).
screenshots: install
	CLASSMOD_REQUIRE_BROWSER=1 CLASSMOD_SCREENSHOT_DIR=docs/screenshots $(BIN)/python -m pytest -q -m slow tests/browser

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# Rebuild the shipped policy heads (policies/heads/) and their model card from policies/training/.
train: install
	$(BIN)/classmod model train

bench: install
	$(BIN)/python bench/check_speed.py

# What the policy heads cost (speed, memory) and how well they and the whole bot do on the held-out split;
# both write JSON to bench/results/.
bench-heads: install
	$(BIN)/python bench/heads.py

# 20,000 seeded hostile lines through check --json, the worst-case messages and policy bombs timed.
bench-hostile: install
	$(BIN)/python bench/hostile.py

eval: install
	$(BIN)/python bench/heads_eval.py

# The offline bot against alt-profanity-check alone on public sets that no package ships, read from where you
# put them (see bench/public_eval.py): TWEETEVAL=<a cardiffnlp/tweeteval checkout> (OLID test A, HatEval),
# ETHOS=<Ethos_Dataset_Binary.csv>. Writes JSON to bench/results/.
eval-public: install
	@test -n "$(TWEETEVAL)$(ETHOS)" || { echo "give TWEETEVAL=DIR and/or ETHOS=CSV (see bench/public_eval.py)"; exit 2; }
	$(BIN)/python bench/public_eval.py $(if $(TWEETEVAL),--tweeteval $(TWEETEVAL)) $(if $(ETHOS),--ethos $(ETHOS))

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
