pf_fuzz(fuzz_onnx_loader SOURCES fuzz_onnx_loader.cpp DEPS pf_engine)
