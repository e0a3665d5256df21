#!/usr/bin/env bash
# Second of the two README commands: the whole test suite.  Sets up and builds
# (tools/setup.sh --test: with the packages only tests use, without running),
# runs every test in build/, then builds the tests with AddressSanitizer +
# UndefinedBehaviorSanitizer in build-asan/ (CPU only) and runs all but the
# slow ones, then builds the fuzz targets with clang in build-fuzz/ and runs
# each a few seconds.  Exits non-zero on any failure.
#   tools/test.sh [CMAKE_ARGS...]        PHOTON_TEST_JOBS=N runs N tests at once
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
jobs=${PHOTON_TEST_JOBS:-1}
build_jobs=$(nproc 2>/dev/null || echo 2)
status=()
fail=0

stage() {   # stage NAME COMMAND...: runs it, records PASS/FAIL
    local name=$1; shift
    echo "=== test.sh: $name"
    if "$@"; then status+=("$name: PASS"); else status+=("$name: FAIL"); fail=1; fi
}

stage "setup and build" bash tools/setup.sh --test "$@"
# The tests that compare with PyPI packages find them in this environment.
pyenv() { PHOTON_VENV_PYTHON=$(bash tools/pyenv.sh) && export PHOTON_VENV_PYTHON; }
built=$fail
stage "python test environment (.venv)" pyenv
if [ "$built" = 0 ]; then
    stage "tests (build/)" bash -c "cd build && ctest --output-on-failure -j $jobs"
fi
# shellcheck disable=SC2317  # called through stage
asan_build() {
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPHOTON_SANITIZE=ON -DPHOTON_CUDA=OFF &&
        cmake --build build-asan -j "$build_jobs"
}
stage "sanitizer build (build-asan/)" asan_build
if [[ "${status[-1]}" == *PASS ]]; then
    # halt_on_error keeps a sanitizer report from scrolling by unnoticed.
    # handle_segv=0: photon-sim raises SIGSEGV on purpose (fault injection,
    # supervision tests); ASan's handler would turn that into "exit 1".  A real
    # crash still fails its test (killed by a signal); memory errors are found
    # by the instrumentation, not by the SEGV handler.
    stage "sanitizer tests (ctest -LE slow)" env ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:handle_segv=0 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        bash -c "cd build-asan && ctest --output-on-failure -LE slow -j $jobs"
fi

# The fuzz targets (tests/fuzz), each a few seconds from its seeds, when
# clang is there (setup.sh installs it): build-fuzz/, ctest -L fuzz.
# shellcheck disable=SC2317  # called through stage
fuzz_smoke() {
    CC=clang cmake -S . -B build-fuzz -DPHOTON_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null &&
        cmake --build build-fuzz --target fuzz -j "$build_jobs" > /dev/null &&
        (cd build-fuzz && ctest --output-on-failure -L fuzz -j "$jobs")
}
if command -v clang > /dev/null; then
    stage "fuzz smoke run (build-fuzz/, ctest -L fuzz)" fuzz_smoke
else
    echo "=== test.sh: no clang: fuzz smoke run skipped"
fi

echo
for s in "${status[@]}"; do echo "  $s"; done
if [ "$fail" = 0 ]; then echo "test.sh: ALL PASSED"; else echo "test.sh: FAILED"; fi
exit "$fail"
