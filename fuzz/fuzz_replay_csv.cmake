pf_fuzz(fuzz_replay_csv SOURCES fuzz_replay_csv.cpp DEPS pf_connect_replay)
