# Installs pmx into a scratch prefix, builds examples/quickstart against it with
# find_package(pmx), runs it and checks the printed loss is below 1e-3. The consumer is built
# twice, as Release and as Debug: a Debug project must link the Release-only install (CMake
# maps its Debug configuration to the installed Release one). The installed targets must not
# name OpenBLAS by this machine's path, and with no OpenBLAS to be found, find_package(pmx)
# must say which Debian package to install.
set(prefix ${PMX_BUILD_DIR}/consumer/install)
file(REMOVE_RECURSE ${PMX_BUILD_DIR}/consumer)
execute_process(COMMAND ${CMAKE_COMMAND} --install ${PMX_BUILD_DIR} --prefix ${prefix}
  RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "cmake --install failed (${rc})")
endif()
foreach(f include/pmx/pmx.h lib/libpmx.a lib/cmake/pmx/pmxConfig.cmake
          lib/cmake/pmx/pmxConfigVersion.cmake lib/cmake/pmx/pmxTargets.cmake
          lib/cmake/pmx/pmxOpenBLAS.cmake)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "the install has no ${f}")
  endif()
endforeach()
# The exported targets must name their dependencies, not files on this machine: an absolute
# path to libopenblas (wherever find_library found it here) breaks the install on a machine
# with OpenBLAS elsewhere or as another variant. pmxConfig.cmake finds it again instead.
file(GLOB target_files ${prefix}/lib/cmake/pmx/pmxTargets*.cmake)
foreach(f ${target_files})
  file(STRINGS ${f} lines REGEX "/[^ \t\";]*libopenblas")
  if(lines)
    message(FATAL_ERROR "${f} links OpenBLAS by an absolute path: ${lines}")
  endif()
  file(STRINGS ${f} lines REGEX "INTERFACE_[A-Z_]+ \"([^\"]*[;:])?/")
  if(lines)
    message(FATAL_ERROR "${f} exports an absolute path: ${lines}")
  endif()
endforeach()
foreach(config Release Debug)
  set(build ${PMX_BUILD_DIR}/consumer/build-${config})
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${PMX_SOURCE_DIR}/examples/quickstart -B ${build}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=${config} RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "configuring the ${config} consumer project failed (${rc})")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${build} RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "building the ${config} consumer project failed (${rc})")
  endif()
  execute_process(COMMAND ${build}/quickstart RESULT_VARIABLE rc OUTPUT_VARIABLE out)
  message(STATUS "${config} quickstart printed: ${out}")
  if(rc)
    message(FATAL_ERROR "${config} quickstart exited with ${rc}")
  endif()
  string(STRIP "${out}" loss)
  if(NOT loss MATCHES "^[0-9.eE+-]+$")
    message(FATAL_ERROR "${config} quickstart printed '${out}', not a number")
  endif()
  if(loss GREATER_EQUAL 0.001)
    message(FATAL_ERROR "${config} quickstart loss ${loss} is not below 1e-3")
  endif()
endforeach()
# A user's machine without OpenBLAS: rooting every library search at a directory that does
# not exist hides it from pmxConfig.cmake, which must then refuse and name the package.
set(build ${PMX_BUILD_DIR}/consumer/build-no-openblas)
execute_process(COMMAND ${CMAKE_COMMAND} -S ${PMX_SOURCE_DIR}/examples/quickstart -B ${build}
  -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_ROOT_PATH=${PMX_BUILD_DIR}/consumer/no-such-root
  -DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc)
  message(FATAL_ERROR "the consumer project configured with no OpenBLAS to be found")
endif()
string(REGEX REPLACE "[ \n]+" " " err "${err}")
if(NOT err MATCHES "pmx needs OpenBLAS .* apt-get install libopenblas-openmp-dev")
  message(FATAL_ERROR "with no OpenBLAS, find_package(pmx) did not name libopenblas-openmp-dev: ${err}")
endif()
