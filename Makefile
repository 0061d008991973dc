# The README's commands. Each one installs what is missing first, so a fresh Debian 12 machine needs
# nothing else. PRESET picks the CMake preset (release, debug, asan).
PRESET ?= release
BUILD_DIR := build/$(PRESET)

.PHONY: deps configure build test test-fast demo bench format clean

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake --preset $(PRESET) >/dev/null

build: configure
	@cmake --build --preset $(PRESET)

test: build
	@ctest --preset $(PRESET)

test-fast: build
	@ctest --preset $(PRESET) -L fast

demo: build
	@scripts/demo.sh $(BUILD_DIR)

bench: build
	@scripts/bench.sh $(BUILD_DIR)

format:
	@git ls-files '*.h' '*.cpp' | xargs clang-format -i

clean:
	rm -rf build
