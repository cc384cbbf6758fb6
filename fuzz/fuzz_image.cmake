# Image decoding (issue 10): PNG, JPEG, BMP, PGM/PPM; seed corpus: tests/fixtures/images plus PNM headers.
if(TARGET pf_connect_images)
  pf_fuzz(fuzz_image SOURCES fuzz_image.cpp DEPS pf_connect_images)
endif()
