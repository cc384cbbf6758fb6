/* Modbus TCP server for the Modbus polling benchmark (bench/modbus_poll_bench.py), on libmodbus.
 *
 * Usage: modbus_bench_server [PORT [REGISTERS]]
 *   PORT       TCP port on 127.0.0.1; 0 (the default) picks a free one.
 *   REGISTERS  holding registers served (default 1200, at most 65535).
 * Prints "READY 127.0.0.1:<port> registers=<n>" on stdout once it accepts connections; on SIGTERM or
 * SIGINT it prints "STOPPED requests=<n> updates=<n>" and exits 0. Several clients at once (select).
 *
 * Register mix (PDU address i, holding registers; input registers mirror them). Every 100 ms
 * (absolute deadlines on the monotonic clock) one update runs:
 *   i % 10 == 0          counter: +1 every update (wraps at 65536)           -> changes every update
 *   i % 10 == 1          analog: signed sine (period 6.4 s) + noise, as int16 -> changes every update
 *   i % 10 == 2 or 3     slow: a new value every 50 updates (5 s), staggered by address
 *   i % 10 in 4..9       static: a fixed value derived from i, never changes
 * So 20 % of the registers change every 100 ms, 20 % once per 5 s and 60 % never: a 100 ms poll of
 * N registers sees about 0.2 * N + 0.2 * N / 50 = 0.204 * N changed values per poll.
 * The mix is a function of the address only, so a client can predict which registers are signed
 * (i % 10 == 1) and how many changes to expect. */
#define _DEFAULT_SOURCE 1 /* M_PI */
#include <errno.h>
#include <math.h>
#include <modbus.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { kDefaultRegisters = 1200, kSlowEvery = 50, kBacklog = 16 };
static const double kUpdatePeriodS = 0.1;

static volatile sig_atomic_t stop_requested = 0;
static void OnSignal(int sig) { (void)sig; stop_requested = 1; }

static double MonotonicS(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* xorshift32: deterministic noise without libc rand() state. */
static uint32_t NextNoise(uint32_t *state) {
  uint32_t x = *state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *state = x;
}

static void InitRegisters(modbus_mapping_t *mb, int n) {
  for (int i = 0; i < n; i++) mb->tab_registers[i] = (uint16_t)((i * 37 + 11) % 5000);
}

/* One 100 ms update of the mix described at the top. tick counts updates from 1. */
static void UpdateRegisters(modbus_mapping_t *mb, int n, uint64_t tick, uint32_t *noise) {
  for (int i = 0; i < n; i++) {
    int cls = i % 10;
    if (cls == 0) {
      mb->tab_registers[i]++;
    } else if (cls == 1) {
      double phase = (double)tick * 2.0 * M_PI / 64.0 + (double)i;
      int jitter = (int)(NextNoise(noise) % 21) - 10;
      int16_t v = (int16_t)(1000.0 * sin(phase)) + (int16_t)jitter;
      mb->tab_registers[i] = (uint16_t)v;
    } else if (cls == 2 || cls == 3) {
      if ((tick + (uint64_t)i) % kSlowEvery == 0) mb->tab_registers[i] = (uint16_t)(NextNoise(noise) % 4000);
    }
  }
  for (int i = 0; i < n; i++) mb->tab_input_registers[i] = mb->tab_registers[i];
}

/* The port the listening socket got (for PORT 0). */
static int BoundPort(int fd) {
  struct sockaddr_in addr;
  socklen_t len = sizeof addr;
  if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0) return -1;
  return ntohs(addr.sin_port);
}

static int ParseInt(const char *s, int lo, int hi, const char *what) {
  char *end = NULL;
  long v = strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < lo || v > hi) {
    fprintf(stderr, "modbus_bench_server: %s '%s': expected an integer in %d..%d\n", what, s, lo, hi);
    exit(2);
  }
  return (int)v;
}

int main(int argc, char **argv) {
  int port = argc > 1 ? ParseInt(argv[1], 0, 65535, "PORT") : 0;
  int n = argc > 2 ? ParseInt(argv[2], 1, 65535, "REGISTERS") : kDefaultRegisters;
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  signal(SIGPIPE, SIG_IGN);

  modbus_t *ctx = modbus_new_tcp("127.0.0.1", port);
  modbus_mapping_t *mb = modbus_mapping_new(0, 0, n, n);
  if (!ctx || !mb) {
    fprintf(stderr, "modbus_bench_server: allocation failed: %s\n", modbus_strerror(errno));
    return 1;
  }
  int server = modbus_tcp_listen(ctx, kBacklog);
  if (server < 0) {
    fprintf(stderr, "modbus_bench_server: listen on 127.0.0.1:%d failed: %s\n", port, modbus_strerror(errno));
    return 1;
  }
  InitRegisters(mb, n);
  printf("READY 127.0.0.1:%d registers=%d\n", BoundPort(server), n);
  fflush(stdout);

  fd_set all;
  FD_ZERO(&all);
  FD_SET(server, &all);
  int fdmax = server;
  uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
  uint64_t tick = 0, requests = 0;
  uint32_t noise = 0x9e3779b9u;
  double next = MonotonicS() + kUpdatePeriodS;

  while (!stop_requested) {
    double wait = next - MonotonicS();
    if (wait < 0) wait = 0;
    struct timeval tv = {(time_t)wait, (suseconds_t)((wait - (double)(time_t)wait) * 1e6)};
    fd_set ready = all;
    int nready = select(fdmax + 1, &ready, NULL, NULL, &tv);
    if (nready < 0 && errno != EINTR) {
      perror("modbus_bench_server: select");
      break;
    }
    /* Catch up on missed deadlines one update at a time so that slow registers keep their period. */
    while (MonotonicS() >= next) {
      next += kUpdatePeriodS;
      UpdateRegisters(mb, n, ++tick, &noise);
    }
    if (nready <= 0) continue;
    for (int fd = 0; fd <= fdmax; fd++) {
      if (!FD_ISSET(fd, &ready)) continue;
      if (fd == server) {
        int c = accept(server, NULL, NULL);
        if (c >= 0 && c < FD_SETSIZE) {
          FD_SET(c, &all);
          if (c > fdmax) fdmax = c;
        } else if (c >= 0) {
          close(c); /* select() cannot watch it */
        }
        continue;
      }
      modbus_set_socket(ctx, fd);
      int rc = modbus_receive(ctx, query);
      if (rc > 0) {
        requests++;
        modbus_reply(ctx, query, rc, mb); /* exception replies for bad addresses too */
      } else if (rc == -1) {
        close(fd);
        FD_CLR(fd, &all);
      }
    }
  }
  printf("STOPPED requests=%llu updates=%llu\n", (unsigned long long)requests, (unsigned long long)tick);
  fflush(stdout);
  for (int fd = 0; fd <= fdmax; fd++)
    if (FD_ISSET(fd, &all)) close(fd);
  modbus_mapping_free(mb);
  modbus_free(ctx);
  return 0;
}
