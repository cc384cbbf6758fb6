# pf_use_ort_client(TARGET): what a target including tests/support/ort/ort_client.h needs: the engine,
# json, the include path, and which engine parts the build has (engine::Session and engine/npy.h are
# used when pf_engine compiles session.cpp / npy.cpp, else the reference interpreter and the
# client's own .npy reader).
function(pf_use_ort_client target)
  target_link_libraries(${target} PRIVATE pf_engine nlohmann_json::nlohmann_json fmt::fmt)
  target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR}/tests/support)
  target_compile_definitions(${target} PRIVATE PF_SOURCE_DIR_DEFAULT="${CMAKE_SOURCE_DIR}")
  get_target_property(engine_sources pf_engine SOURCES)
  if("session.cpp" IN_LIST engine_sources)
    target_compile_definitions(${target} PRIVATE PF_HAVE_ENGINE_SESSION)
  endif()
  if("npy.cpp" IN_LIST engine_sources)
    target_compile_definitions(${target} PRIVATE PF_HAVE_ENGINE_NPY)
  endif()
endfunction()
