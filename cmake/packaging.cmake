# install() rules and the CPack DEB package: `cpack -G DEB` in a build folder makes
# plantfloor_<version>_<arch>.deb with the binary, the systemd unit and the default config.
# packaging/README.md says what the package does on install, upgrade, remove and purge.
set(PF_PACKAGING_DIR ${CMAKE_SOURCE_DIR}/packaging)

install(TARGETS plantfloor RUNTIME DESTINATION bin
  PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
install(FILES ${PF_PACKAGING_DIR}/plantfloor.service DESTINATION /lib/systemd/system
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES ${PF_PACKAGING_DIR}/plantfloor.toml DESTINATION /etc/plantfloor
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES ${PF_PACKAGING_DIR}/README.md DESTINATION share/doc/plantfloor
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME plantfloor)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "plantfloor")
set(CPACK_PACKAGE_CONTACT "plantfloor maintainers <plantfloor@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "edge runtime for manufacturing AI: PLC ingestion, history, REST API")
# The summary is the control file's Description line; this is the extended text under it.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "plantfloor reads machines over Modbus TCP/RTU and replays historian CSVs,
keeps history and events in SQLite, forwards them from a durable outbox over MQTT
and serves a REST API. It runs as the systemd service plantfloor.service
(Type=notify, watchdog) as the unprivileged user plantfloor; its data lives in
/var/lib/plantfloor and its configuration in /etc/plantfloor/plantfloor.toml.")
# Library dependencies (libmodbus5, libsqlite3-0, libsystemd0, ...) come from dpkg-shlibdeps
# (package dpkg-dev); the scripts need adduser, and systemd is what runs the unit.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${PF_PACKAGING_DIR}/debian/conffiles
  ${PF_PACKAGING_DIR}/debian/postinst
  ${PF_PACKAGING_DIR}/debian/prerm
  ${PF_PACKAGING_DIR}/debian/postrm)
# Keep the scripts' 0755 and conffiles' 0644 whatever the checkout's modes are.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
