# libFuzzer targets for the TCP link (tests/fuzz/fuzz_tcp_*.c), with seed
# corpora in tests/fuzz/corpus/<target>/.  Built with -DPHOTON_FUZZ=ON in a
# clang build (CC=clang-14), where every library carries the fuzzer's
# coverage instrumentation; each runs briefly as a ctest labelled `fuzz`
# (PHOTON_FUZZ_SECONDS each, default 10), writing what it finds under the
# build directory, never into the seed corpus:
#   CC=clang-14 cmake -S . -B build-fuzz -DPHOTON_FUZZ=ON -DPHOTON_CUDA=OFF
#   cmake --build build-fuzz -j2 --target fuzz && (cd build-fuzz && ctest -L fuzz)
#   build-fuzz/tests/fuzz_tcp_frame -max_total_time=600 NEW_DIR tests/fuzz/corpus/fuzz_tcp_frame
if(PHOTON_FUZZ)
  set(PHOTON_FUZZ_SECONDS 10 CACHE STRING "Seconds each fuzz target runs under ctest")
  file(GLOB PHOTON_FUZZ_TCP CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/fuzz_tcp_*.c)
  foreach(src ${PHOTON_FUZZ_TCP})
    get_filename_component(name ${src} NAME_WE)
    add_executable(${name} ${src})
    target_link_libraries(${name} PRIVATE photon_cmd)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    set(found ${CMAKE_CURRENT_BINARY_DIR}/${name}.found)
    add_test(NAME ${name}
      COMMAND sh -c "mkdir -p \"$1\" && cd \"$1\" && exec \"$2\" -max_total_time=$3 -rss_limit_mb=2048 -print_final_stats=1 . \"$4\""
              sh ${found} $<TARGET_FILE:${name}> ${PHOTON_FUZZ_SECONDS} ${CMAKE_CURRENT_LIST_DIR}/corpus/${name})
    set_tests_properties(${name} PROPERTIES LABELS fuzz)
    # `cmake --build build-fuzz --target fuzz` builds every fuzz target only.
    if(NOT TARGET fuzz)
      add_custom_target(fuzz)
    endif()
    add_dependencies(fuzz ${name})
  endforeach()
  # Regenerates the seed corpora (not a test): gen_tcp_seeds tests/fuzz/corpus
  add_executable(gen_tcp_seeds ${CMAKE_CURRENT_LIST_DIR}/gen_tcp_seeds.c)
  target_link_libraries(gen_tcp_seeds PRIVATE photon_cmd)
endif()
