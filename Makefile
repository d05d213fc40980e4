# Two commands: `make demo` (set up, then the Moving-MNIST experiment on the CPU)
# and `make test` (set up, then the test suite).
# `make rtsp-test-deps` (optional, best effort, root + apt-get) installs the RTSP server
# that tests/live/test_rtsp.py runs; without it that test skips, saying why. Likewise
# `make mqtt-test-deps` installs the Mosquitto broker of tests/live/test_mqtt.py, and
# `make browser-test-deps` the Chromium that tests/live/test_page.py drives.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint clean rtsp-test-deps mqtt-test-deps browser-test-deps

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch 2.13.0 is the CPU build this project is developed on; any torch>=2.4 works
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

demo: $(BIN)/.installed
	$(BIN)/convlstm-ae experiment moving-mnist --out runs/demo \
		--presets tiny,conv-ae-tiny --num-train 2000 --num-test 300 \
		--max-steps 1200 --num-workers 2

test: $(BIN)/.installed
	$(BIN)/python -m pytest

# Best-effort install of Debian packages a test needs: $(1) the packages, $(2) what
# skips without them. Never fails: without root or apt-get it says so.
define apt_install
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q $(1) >/dev/null 2>&1 \
		|| { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $(1); } \
		|| echo "$@: could not install $(1); $(2) will skip"; \
	else \
		echo "$@: needs root and apt-get to install $(1); $(2) will skip"; \
	fi
endef

# GStreamer's RTSP server for the system python3 (tests/rtsp_server.py)
RTSP_TEST_PACKAGES := python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base \
	gstreamer1.0-plugins-good
rtsp-test-deps:
	$(call apt_install,$(RTSP_TEST_PACKAGES),the RTSP test)

# Debian's Mosquitto broker, which tests/live/test_mqtt.py starts on 127.0.0.1
mqtt-test-deps:
	$(call apt_install,mosquitto,the MQTT broker tests)

# Debian's Chromium for the page's browser tests (tests/chromium.py); the one playing an
# event clip also needs PyAV's H.264, which the dev extra installs (clips)
browser-test-deps:
	$(call apt_install,chromium,the browser test)

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache
