# Two commands do all set-up on a fresh machine:
#   make demo   - creates .venv, installs mynaid, runs it on the built-in emulated card
#   make test   - installs what the tests need (system packages when root), runs the suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: help demo reader-deps test system-deps lint typecheck bench bench-docsign fuzz vectors clean screenshots

# `make help`: every target with its one-line description (the `## ` comments below).
help: ## this list
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The demo needs no compiler: it installs mynaid with the face extra (wheels only) and
# without the pcsc extra (pyscard builds from source).
$(VENV)/.demo: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[face,service]'
	touch $@

# The main job on the built-in emulated card: what the card holds, then the clinic kiosk
# flow by face with a sample camera frame. The kiosk's answers (the test card's 照合番号B
# and the consent) come from a file on stdin, as secrets never go on a command line.
demo: $(VENV)/.demo ## create .venv, install mynaid, run info and the kiosk flow on the test card
	-@sh scripts/install-reader-deps.sh "$(BIN)/python -m pip"
	$(BIN)/mynaid --emulator info
	@echo
	@echo "== clinic kiosk flow: card, face (sample frame), consent =="
	$(BIN)/mynaid --emulator kiosk --method face --camera vectors/sample-frame.jpg \
		--issuer-key vectors/test-pki/visual-issuer.pem < examples/demo-kiosk-answers.txt
	@echo
	@echo "mynaid is installed in $(VENV): activate it with  . $(VENV)/bin/activate"
	@echo "then try  mynaid --emulator pin status  or, with a reader,  mynaid readers"

# pcscd and pyscard for real readers (as root; otherwise prints the command).
reader-deps: $(VENV)/.demo ## install pcscd and pyscard for a real reader (root), or print how
	sh scripts/install-reader-deps.sh "$(BIN)/python -m pip"

system-deps: ## install the system packages the tests need (root)
	sh scripts/install-system-deps.sh

$(VENV)/.test: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

# As root the PC/SC integration tests must run, not skip (MYNAID_REQUIRE_PCSC).
test: system-deps $(VENV)/.test ## install what tests need and run the whole suite, ruff, mypy
	MYNAID_REQUIRE_PCSC=$$( [ "$$(id -u)" = 0 ] && echo 1 || echo 0 ) \
	MYNAID_REQUIRE_POSTGRES=$$( [ "$$(id -u)" = 0 ] && echo 1 || echo 0 ) $(BIN)/python -m pytest -q
	$(BIN)/ruff check mynaid tests benchmarks examples vectors
	$(BIN)/mypy

lint: $(VENV)/.test ## ruff
	$(BIN)/ruff check mynaid tests benchmarks examples vectors

typecheck: $(VENV)/.test ## mypy --strict
	$(BIN)/mypy

# Speed and size figures (reported, never asserted); the PC/SC parts need root.
bench: $(VENV)/.test ## speed and size figures (reported, never asserted)
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/bench_visual.py
	$(BIN)/python benchmarks/bench_sign.py
	$(BIN)/python benchmarks/bench_face.py
	$(BIN)/python benchmarks/bench_kiosk.py
	$(BIN)/python benchmarks/bench_cardface.py
	$(BIN)/python benchmarks/bench_kiosk_web.py
	$(BIN)/python benchmarks/bench_cms_stream.py
	$(BIN)/python benchmarks/bench_service.py
	$(BIN)/python benchmarks/bench_startup.py --regular-install

# The kiosk page's screenshots in docs/screenshots/ (README), from its browser tests (root:
# they go through pcscd + vpcd and headless Chromium). Without MYNAID_SCREENSHOTS_DIR the
# tests write them into a temporary directory, so `make test` leaves the tree unchanged.
screenshots: system-deps $(VENV)/.test ## regenerate the kiosk page's screenshots (root)
	MYNAID_REQUIRE_PCSC=1 MYNAID_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots \
		$(BIN)/python -m pytest -q tests/test_kiosk_browser.py

# The mutation fuzzer's long mode (the suite runs a few dozen cases per target).
fuzz: $(VENV)/.test ## the mutation fuzzer's long run
	$(BIN)/python benchmarks/fuzz.py --iterations 2000

# PDF/XML signing of 10 MB and 200 MB documents (a few minutes; not part of `make bench`).
bench-docsign: $(VENV)/.test ## PDF/XML signing of 10 MB and 200 MB documents
	$(BIN)/python benchmarks/bench_docsign.py --sizes 10,200

vectors: $(VENV)/.demo ## rebuild the test vectors
	$(BIN)/python vectors/make_vectors.py

clean: ## remove the venv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
