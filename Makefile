# The two commands: `make demo` and `make test`. Everything else is a helper for them.
BUILD      ?= build
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
CONFIG     ?= examples/demo.toml
export CCACHE_DIR ?= $(CURDIR)/.cache/ccache

.PHONY: demo test install build build-fuzz unit peer golden fuzz bench soak clean

demo: install build
	@echo "plantfloor demo: API on http://127.0.0.1:8080/api/v1/health (Ctrl-C stops)"
	$(BUILD)/src/cli/plantfloor run --config $(CONFIG)

test: install build build-fuzz
	cd $(FUZZ_BUILD) && ctest -L fuzz --output-on-failure; echo $$? > $(CURDIR)/$(FUZZ_BUILD)/fuzz.rc
	cd $(BUILD) && ctest -LE 'bench|soak|fuzz' --output-on-failure -j2 --timeout 900
	@test "$$(cat $(FUZZ_BUILD)/fuzz.rc)" = 0 || { echo "fuzz targets FAILED (see above)"; exit 1; }

install:
	bash scripts/install.sh

build:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	ninja -C $(BUILD) -j$(JOBS)

build-fuzz:
	CC=clang-14 CXX=clang++-14 cmake -S . -B $(FUZZ_BUILD) -G Ninja -DPF_BUILD_FUZZ=ON -DPF_BUILD_TESTS=OFF \
	  -DPF_BUILD_BENCH=OFF -DPF_FUZZ_SECONDS=30 -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	ninja -C $(FUZZ_BUILD) -j$(JOBS) fuzz_targets

unit peer golden:
	cd $(BUILD) && ctest -L $@ --output-on-failure

fuzz: build-fuzz
	cd $(FUZZ_BUILD) && ctest -L fuzz --output-on-failure

bench: build
	cd $(BUILD) && ctest -L bench --output-on-failure -V

soak: build
	cd $(BUILD) && ctest -L soak --output-on-failure

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD)
