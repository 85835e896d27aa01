/**
 * PostgreSQL settings for the embedded server (PGlite): one process, one connection, a laptop-sized
 * database. PostgreSQL's defaults (128 MB of shared buffers and more) size PGlite's WebAssembly
 * memory, which never shrinks: these keep an idle embedded server small. bench/startup-time.sh
 * measures the result.
 */
export const EMBEDDED_POSTGRESQL_CONF: readonly string[] = [
  "shared_buffers=8MB",
  "wal_buffers=512kB",
  "temp_buffers=1MB",
  "work_mem=1MB",
  "maintenance_work_mem=2MB",
  // PGlite serves one connection; shared memory is sized for this many.
  "max_connections=3",
];
