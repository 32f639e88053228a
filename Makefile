# bootflow: `make demo` and `make test` set themselves up on a fresh machine.
PY := .venv/bin/python
SETUP := .venv/.bootflow-installed

.PHONY: rabbitmq setup demo demo-headless test test-unit test-functional test-integration lint bench bench-scale bench-guest guest-image libvirt clean

setup: $(SETUP)

$(SETUP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh

demo: setup
	$(PY) -m tracer.cli demo

demo-headless: setup
	$(PY) -m tracer.cli demo --headless

# The whole suite needs RabbitMQ (started before the session here), libvirtd and the
# guest image: each is brought up here, idempotently. `make demo` needs neither.
test: setup rabbitmq libvirt guest-image
	$(PY) -m pytest

test-unit: setup
	$(PY) -m pytest -m unit

test-functional: setup rabbitmq
	$(PY) -m pytest -m functional

test-integration: setup rabbitmq libvirt guest-image
	$(PY) -m pytest -m integration

lint: setup
	.venv/bin/ruff check services tracer tests bench
	.venv/bin/mypy services tracer
	.venv/bin/lint-imports
	for f in bench/*.py; do .venv/bin/mypy "$$f" || exit 1; done

bench: setup
	$(PY) bench/rpc_latency.py
	$(PY) bench/tui_ingest.py

bench-scale: setup
	$(PY) bench/scale.py

bench-guest: setup guest-image
	$(PY) bench/guest_boot.py --runs 3
	$(PY) bench/boot_to_active.py --runs 3

# The messaging fuzz harness at length: 10,000 generated messages through the RPC server
# (make test runs the same tests with 2,000), 2,000 of them raw onto a live RabbitMQ queue.
.PHONY: fuzz
fuzz: setup rabbitmq
	BOOTFLOW_FUZZ_EXAMPLES=10000 $(PY) -m pytest tests/unit/test_messaging_fuzz.py tests/functional/test_messaging_fuzz_rabbit.py

guest-image:
	bash scripts/build-guest-image.sh

libvirt:
	bash scripts/libvirt-up.sh

rabbitmq:
	bash scripts/rabbitmq-up.sh

clean:
	rm -rf .venv build state
