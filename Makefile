# lgd_ros developer entry points. Every target sets itself up: `make test` and
# `make demo` work on a fresh clone (Debian 12 + CPython 3.11 + registry access).
#
#   make demo    environment, messages, then the main demo job
#   make test    environment, messages, then every test
#   make bench   environment, messages, then the benchmarks (markdown tables)
#   make msgs    (re)build the ROS 2 messages with colcon into build/ws/install
#   make lint    ruff
#   make clean   remove build products (keeps .venv)

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
# Stamp named after the lock files' hash: editing a lock file reinstalls,
# re-running with nothing changed does not.
LOCK_HASH := $(shell cat requirements/*.txt | sha256sum | cut -c1-16)
ENV_STAMP := $(VENV)/.lgd-env-$(LOCK_HASH)
WS := build/ws
MSG_STAMP := $(WS)/install/.lgd-msgs-built
MSG_INPUTS := CMakeLists.txt package.xml $(wildcard msg/*.msg) $(wildcard test/interfaces/*/*.* test/interfaces/*/msg/*)
RUN := ./tools/with_ros_env.sh

.PHONY: all env msgs test demo bench lint clean

all: test

env: $(ENV_STAMP)

$(ENV_STAMP): requirements/lock.txt requirements/no-deps.txt setup.py
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements/lock.txt
	$(VPY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements/no-deps.txt
	$(VPY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(VPY) tools/fix_ros_wheel_cmake.py $(VENV)
	rm -f $(VENV)/.lgd-env-* && touch $@

msgs: $(MSG_STAMP)

# colcon builds from a staged copy of the package: CMake refuses include
# directories inside the source tree, and the venv (with NumPy's headers) lives
# inside this checkout. tf2_msgs and hri_msgs (not on PyPI) are built for the
# tests only (test/interfaces/README.md).
$(MSG_STAMP): $(ENV_STAMP) $(MSG_INPUTS)
	rm -rf $(WS)/src && mkdir -p $(WS)/src/lgd_ros
	cp -r CMakeLists.txt package.xml msg lgd_ros scripts launch config $(WS)/src/lgd_ros/
	cp -r test/interfaces/tf2_msgs test/interfaces/hri_msgs $(WS)/src/
	cd $(WS) && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" \
	  AMENT_PREFIX_PATH="$(CURDIR)/$(VENV)" CMAKE_PREFIX_PATH="$(CURDIR)/$(VENV)" \
	  colcon --log-base log build --event-handlers console_cohesion- status- \
	    --cmake-args -DPython3_EXECUTABLE="$(CURDIR)/$(VPY)" -DBUILD_TESTING=OFF
	touch $@

test: $(MSG_STAMP)
	$(RUN) $(VPY) -m pytest test

demo: $(MSG_STAMP)
	$(RUN) $(VPY) -m lgd_ros.cli demo

bench: $(MSG_STAMP)
	$(RUN) $(VPY) -m benchmarks

lint: $(ENV_STAMP)
	$(VENV)/bin/ruff check lgd_ros test tools benchmarks

clean:
	rm -rf build $(WS) .pytest_cache
