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

# GStreamer's RTSP server for the system python3 (tests/rtsp_server.py); never fails:
# without root or apt-get it says so and the RTSP test skips.
RTSP_TEST_PACKAGES := python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base \
	gstreamer1.0-plugins-good
rtsp-test-deps:
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q $(RTSP_TEST_PACKAGES) >/dev/null 2>&1 \
		|| { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $(RTSP_TEST_PACKAGES); } \
		|| echo "rtsp-test-deps: could not install $(RTSP_TEST_PACKAGES); the RTSP test will skip"; \
	else \
		echo "rtsp-test-deps: needs root and apt-get to install $(RTSP_TEST_PACKAGES);" \
			"the RTSP test will skip"; \
	fi

# Debian's Mosquitto broker, which tests/live/test_mqtt.py starts on 127.0.0.1; never
# fails: without root or apt-get it says so and the broker tests skip.
MQTT_TEST_PACKAGES := mosquitto
mqtt-test-deps:
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q $(MQTT_TEST_PACKAGES) >/dev/null 2>&1 \
		|| { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $(MQTT_TEST_PACKAGES); } \
		|| echo "mqtt-test-deps: could not install $(MQTT_TEST_PACKAGES); the MQTT broker tests will skip"; \
	else \
		echo "mqtt-test-deps: needs root and apt-get to install $(MQTT_TEST_PACKAGES);" \
			"the MQTT broker tests will skip"; \
	fi

# Debian's Chromium for the page's browser test (tests/chromium.py); never fails, as above.
BROWSER_TEST_PACKAGES := chromium
browser-test-deps:
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q $(BROWSER_TEST_PACKAGES) >/dev/null 2>&1 \
		|| { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $(BROWSER_TEST_PACKAGES); } \
		|| echo "browser-test-deps: could not install $(BROWSER_TEST_PACKAGES); the browser test will skip"; \
	else \
		echo "browser-test-deps: needs root and apt-get to install $(BROWSER_TEST_PACKAGES);" \
			"the browser test will skip"; \
	fi

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache
