VENV ?= .venv

$(VENV)/.installed: pyproject.toml scripts/setup.sh
	bash scripts/setup.sh $(VENV)

.PHONY: quickstart test lint
quickstart: $(VENV)/.installed
	$(VENV)/bin/lingotune run recipes/quickstart.yaml

test: $(VENV)/.installed
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/python -m pytest -q --durations=15

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check lingotune tests benchmarks
