# What differs between the LibTorch versions trainer builds against (Debian's 1.13 and the 2.x of
# PyPI's torch wheel), on CMake's side: the C++ standard the LibTorch headers require (2.x declares
# C++20 on its `torch` target), and where its CUDA libraries come from. The C++ side's places are
# optim/state_map.cpp (the optimizer state's key) and trainer/autocast.cpp (autocast's state).
get_target_property(TRAINER_TORCH_CXX_STANDARD torch CXX_STANDARD)
if(TRAINER_TORCH_CXX_STANDARD AND TRAINER_TORCH_CXX_STANDARD GREATER CMAKE_CXX_STANDARD)
  set(CMAKE_CXX_STANDARD ${TRAINER_TORCH_CXX_STANDARD})
endif()
message(STATUS "trainer: LibTorch ${Torch_VERSION} (${TORCH_INSTALL_PREFIX}), C++${CMAKE_CXX_STANDARD}")

# GCC 12 in C++20 mode warns -Warray-bounds and -Wstringop-overflow inside libstdc++'s own
# constexpr string concatenation (a known false positive, gone in GCC 13): silenced there only, so
# both warnings still cover our code in the C++17 build.
set(TRAINER_COMPAT_WARNING_FLAGS "")
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13
   AND CMAKE_CXX_STANDARD GREATER_EQUAL 20)
  set(TRAINER_COMPAT_WARNING_FLAGS -Wno-array-bounds -Wno-stringop-overflow)
endif()
