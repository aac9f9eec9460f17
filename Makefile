# Two commands do all set-up on a fresh machine:
#   make demo   - creates .venv, installs mynaid, runs it on the built-in emulated card
#   make test   - installs what the tests need (system packages when root), runs the suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test system-deps lint typecheck bench vectors clean screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The demo needs no compiler: it installs mynaid with the face extra (wheels only) and
# without the pcsc extra (pyscard builds from source).
$(VENV)/.demo: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[face]'
	touch $@

# The main job on the built-in emulated card: what the card holds, then the clinic kiosk
# flow by face with a sample camera frame. The kiosk's answers (the test card's 照合番号B
# and the consent) come from a file on stdin, as secrets never go on a command line.
demo: $(VENV)/.demo
	$(BIN)/mynaid --emulator info
	@echo
	@echo "== clinic kiosk flow: card, face (sample frame), consent =="
	$(BIN)/mynaid --emulator kiosk --method face --camera vectors/sample-frame.jpg \
		--issuer-key vectors/test-pki/visual-issuer.pem < examples/demo-kiosk-answers.txt

system-deps:
	sh scripts/install-system-deps.sh

$(VENV)/.test: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

# As root the PC/SC integration tests must run, not skip (MYNAID_REQUIRE_PCSC).
test: system-deps $(VENV)/.test
	MYNAID_REQUIRE_PCSC=$$( [ "$$(id -u)" = 0 ] && echo 1 || echo 0 ) $(BIN)/python -m pytest -q
	$(BIN)/ruff check mynaid tests benchmarks examples vectors
	$(BIN)/mypy

lint: $(VENV)/.test
	$(BIN)/ruff check mynaid tests benchmarks examples vectors

typecheck: $(VENV)/.test
	$(BIN)/mypy

# Speed and size figures (reported, never asserted); the PC/SC parts need root.
bench: $(VENV)/.test
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/bench_visual.py
	$(BIN)/python benchmarks/bench_sign.py
	$(BIN)/python benchmarks/bench_face.py
	$(BIN)/python benchmarks/bench_kiosk.py
	$(BIN)/python benchmarks/bench_cardface.py
	$(BIN)/python benchmarks/bench_kiosk_web.py

# The kiosk page's screenshots in docs/screenshots/ (README), from its browser tests (root:
# they go through pcscd + vpcd and headless Chromium). Without MYNAID_SCREENSHOTS_DIR the
# tests write them into a temporary directory, so `make test` leaves the tree unchanged.
screenshots: system-deps $(VENV)/.test
	MYNAID_REQUIRE_PCSC=1 MYNAID_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots \
		$(BIN)/python -m pytest -q tests/test_kiosk_browser.py

vectors: $(VENV)/.demo
	$(BIN)/python vectors/make_vectors.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
