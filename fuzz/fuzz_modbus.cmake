pf_fuzz(fuzz_modbus SOURCES fuzz_modbus.cpp DEPS pf_connect_modbus)
