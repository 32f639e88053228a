# bootflow: `make demo` and `make test` set themselves up on a fresh machine.
PY := .venv/bin/python
SETUP := .venv/.bootflow-installed

.PHONY: setup demo demo-headless test lint bench bench-scale bench-guest guest-image libvirt clean

setup: $(SETUP)

$(SETUP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh

demo: setup
	$(PY) -m tracer.cli demo

demo-headless: setup
	$(PY) -m tracer.cli demo --headless

test: setup
	$(PY) -m pytest

lint: setup
	.venv/bin/ruff check services tracer tests bench
	.venv/bin/mypy services tracer
	for f in bench/*.py; do .venv/bin/mypy "$$f" || exit 1; done

bench: setup
	$(PY) bench/rpc_latency.py
	$(PY) bench/tui_ingest.py

bench-scale: setup
	$(PY) bench/scale.py

bench-guest: setup guest-image
	$(PY) bench/guest_boot.py --runs 3
	$(PY) bench/boot_to_active.py --runs 3

guest-image:
	bash scripts/build-guest-image.sh

libvirt:
	bash scripts/libvirt-up.sh

clean:
	rm -rf .venv build state
