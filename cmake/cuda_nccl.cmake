# Finds CUDA and NCCL for the NCCL communicator, CUDA streams and GPU probing
# (TRAINER_WITH_NCCL=AUTO|ON|OFF). Sets TRAINER_HAVE_NCCL, which also means "LibTorch was built with
# CUDA" (its c10_cuda library was found): a CPU LibTorch cannot make the CUDA tensors NCCL moves.
# Included from the top level, after LibTorch, so that CUDA::cudart is visible everywhere. A process holds one libnccl.so.2: when the LibTorch found brings NCCL of its
# own (the torch wheel's nvidia-nccl package beside it), that one is used, else the machine's.
set(TRAINER_WITH_NCCL AUTO CACHE STRING "Build the NCCL communicator: AUTO, ON or OFF")
set(TRAINER_HAVE_NCCL FALSE)
if(NOT TRAINER_WITH_NCCL STREQUAL "OFF")
  find_package(CUDAToolkit QUIET)
  if(CUDAToolkit_FOUND AND C10_CUDA_LIBRARY)
    set(torch_nccl "${TORCH_INSTALL_PREFIX}/../nvidia/nccl")
    find_path(NCCL_INCLUDE_DIR nccl.h HINTS "${torch_nccl}/include" ${CUDAToolkit_INCLUDE_DIRS}
              ${CUDAToolkit_LIBRARY_ROOT}/include NO_DEFAULT_PATH)
    find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2 NAMES_PER_DIR HINTS "${torch_nccl}/lib" ${CUDAToolkit_LIBRARY_DIR}
                 NO_DEFAULT_PATH)
    if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
      set(TRAINER_HAVE_NCCL TRUE)
    endif()
  endif()
  if(TRAINER_WITH_NCCL STREQUAL "ON" AND NOT TRAINER_HAVE_NCCL)
    message(FATAL_ERROR "TRAINER_WITH_NCCL=ON but CUDA, NCCL or a LibTorch built with CUDA was not found")
  endif()
endif()
if(TRAINER_HAVE_NCCL)
  message(STATUS "trainer: NCCL communicator enabled (${NCCL_LIBRARY}, CUDA ${CUDAToolkit_VERSION})")
else()
  message(STATUS "trainer: NCCL communicator disabled (CUDA, NCCL or a CUDA LibTorch not found)")
endif()
