pf_fuzz(fuzz_spc_csv SOURCES fuzz_spc_csv.cpp DEPS pf_spc)
