# Finds photon-sim's dependencies the standard way.  A missing one stops
# configure with the Debian package that provides it, so a user is never left
# guessing.
find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: install the Debian package 'pkg-config'")
endif()

function(photon_require_pkg target module debian)
  pkg_check_modules(${target} IMPORTED_TARGET ${module})
  if(NOT ${target}_FOUND)
    message(FATAL_ERROR "${module} not found: install the Debian package '${debian}' (apt-get install ${debian})")
  endif()
endfunction()

photon_require_pkg(LIBEVENT libevent libevent-dev)
photon_require_pkg(INIH inih libinih-dev)
photon_require_pkg(OPENBLAS openblas libopenblas-dev)
# JSON for sweep.json and for reading run results (sweep, compare).
photon_require_pkg(CJSON libcjson libcjson-dev)
# Hugging Face tokenizers: Oniguruma for their Split regexes (the engine
# the tokenizers library uses), utf8proc for their Unicode normalizers.
photon_require_pkg(ONIG oniguruma libonig-dev)
photon_require_pkg(UTF8PROC libutf8proc libutf8proc-dev)
# .zst text sources.
photon_require_pkg(ZSTD libzstd libzstd-dev)
# Randomness, HKDF and HMAC for the TCP link's run key.
photon_require_pkg(LIBCRYPTO libcrypto libssl-dev)
# TLS 1.3 for the TCP link (libssl) through libevent's OpenSSL bufferevents.
photon_require_pkg(LIBSSL libssl libssl-dev)
photon_require_pkg(LIBEVENT_OPENSSL libevent_openssl libevent-dev)

find_package(ZLIB)
if(NOT ZLIB_FOUND)
  message(FATAL_ERROR "zlib not found: install the Debian package 'zlib1g-dev'")
endif()

set(HDF5_PREFER_PARALLEL OFF)
find_package(HDF5 COMPONENTS C)
if(NOT HDF5_FOUND)
  message(FATAL_ERROR "HDF5 (C API) not found: install the Debian package 'libhdf5-dev'")
endif()
add_library(photon_hdf5 INTERFACE)
target_include_directories(photon_hdf5 INTERFACE ${HDF5_C_INCLUDE_DIRS} ${HDF5_INCLUDE_DIRS})
target_link_libraries(photon_hdf5 INTERFACE ${HDF5_C_LIBRARIES} ${HDF5_LIBRARIES})
target_compile_definitions(photon_hdf5 INTERFACE ${HDF5_DEFINITIONS})

find_package(OpenMP COMPONENTS C)
if(NOT OpenMP_C_FOUND)
  message(FATAL_ERROR "OpenMP not found: install the Debian package 'libgomp1' (it comes with gcc)")
endif()

find_package(Threads REQUIRED)

# --- CUDA (optional) ---------------------------------------------------------
set(PHOTON_HAVE_CUDA OFF)
if(NOT PHOTON_CUDA STREQUAL "OFF")
  if(NOT DEFINED CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  find_package(CUDAToolkit QUIET)
  set(_nccl_hint ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib64 /usr/lib/x86_64-linux-gnu)
  find_library(NCCL_LIBRARY nccl HINTS ${_nccl_hint})
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include /usr/include)
  if(CMAKE_CUDA_COMPILER AND CUDAToolkit_FOUND AND TARGET CUDA::cublasLt AND NCCL_LIBRARY AND NCCL_INCLUDE_DIR)
    # Hopper (H100/H200), the GPUs the paper's runs target; set before
    # enable_language, which would otherwise fill in nvcc's default (sm_75 for
    # CUDA 13) and build kernels that cannot use bf16 tensor-core WMMA.
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90 CACHE STRING "CUDA architectures (90 = Hopper)")
    endif()
    enable_language(CUDA)
    set(PHOTON_HAVE_CUDA ON)
    if(CMAKE_CUDA_ARCHITECTURES STREQUAL "52" OR CMAKE_CUDA_ARCHITECTURES STREQUAL "75")
      # a build dir configured before the line above kept nvcc's default
      set(CMAKE_CUDA_ARCHITECTURES 90 CACHE STRING "CUDA architectures (90 = Hopper)" FORCE)
    endif()
    set(CMAKE_CUDA_STANDARD 17)
    message(STATUS "photon-sim: CUDA backend ON (CUDA ${CUDAToolkit_VERSION}, NCCL ${NCCL_LIBRARY})")
  elseif(PHOTON_CUDA STREQUAL "ON")
    message(FATAL_ERROR "PHOTON_CUDA=ON but the CUDA toolkit, cuBLAS/cuBLASLt or NCCL was not found: install the CUDA Toolkit (nvcc at /usr/local/cuda) and NCCL (Debian package 'libnccl-dev')")
  else()
    message(STATUS "photon-sim: CUDA backend OFF (toolkit, cuBLASLt or NCCL not found)")
  endif()
endif()

# A folder's static library; a folder whose sources have not landed yet gets
# an empty translation unit so the tree always configures.
function(photon_library name)
  set(srcs ${ARGN})
  if(NOT srcs)
    set(srcs ${PROJECT_SOURCE_DIR}/cmake/empty.c)
  endif()
  add_library(${name} STATIC ${srcs})
endfunction()
