# `make demo` and `make test` work on a fresh machine: both create .venv first.
PYTHON ?= python3
VENV := .venv
EXTRAS ?= cpu,test
comma := ,
INSTALLED := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

.PHONY: install demo study test clean

install: $(INSTALLED)

# constraints.txt pins the whole environment; PIP_BUILD_CONSTRAINT keeps fairseq-fixed's isolated
# build on the local CPU torch instead of downloading a CUDA build (see ../shared/INSTALL.md).
$(INSTALLED): setup.py pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	PIP_CONSTRAINT="$(CURDIR)/constraints.txt" PIP_BUILD_CONSTRAINT="$(CURDIR)/constraints.txt" \
		$(VENV)/bin/pip install -e ".[$(EXTRAS)]"
	touch $@

demo: install
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash examples/demo/run.sh

# the real-corpus learning study: CORPUS is the directory ../shared/corpus builds (about 1.5 h)
study: install
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash examples/debian_docs/run.sh $(CORPUS)

test: install
	$(VENV)/bin/python -m pytest -q tests

clean:
	rm -rf $(VENV) outputs
