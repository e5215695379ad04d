# Finds OpenBLAS and defines the IMPORTED target pmx::openblas (the library only). Used twice:
# by pmx's own build, and by the installed pmxConfig.cmake, so a project that links pmx::pmx
# finds OpenBLAS on its own machine instead of reading the path pmx was built with.
#
# Prefers the OpenMP build of OpenBLAS: it shares pmx's OpenMP thread pool instead of spinning
# its own pthreads against ours. Falls back to whichever OpenBLAS is installed. Sets
# PMX_BLAS_LIBRARY (a cache entry: -DPMX_BLAS_LIBRARY=... picks another) and leaves it
# PMX_BLAS_LIBRARY-NOTFOUND, with no target, when there is none; the caller says so.
find_library(PMX_BLAS_LIBRARY NAMES openblas
  PATHS /usr/lib/x86_64-linux-gnu/openblas-openmp /usr/lib/x86_64-linux-gnu/openblas-pthread
  NO_DEFAULT_PATH)
if(NOT PMX_BLAS_LIBRARY)
  find_library(PMX_BLAS_LIBRARY NAMES openblas)
endif()
if(PMX_BLAS_LIBRARY AND NOT TARGET pmx::openblas)
  add_library(pmx::openblas UNKNOWN IMPORTED)
  set_target_properties(pmx::openblas PROPERTIES IMPORTED_LOCATION "${PMX_BLAS_LIBRARY}")
endif()
