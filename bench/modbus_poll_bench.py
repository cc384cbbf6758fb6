#!/usr/bin/python3
"""Modbus polling benchmark (issue 2): plantfloor beside a pymodbus client loop, same server, one run.

What it does, in one run:
  1. starts bench/modbus_bench_server (libmodbus, 1200 holding registers, register mix documented in
     modbus_bench_server.c: 20 % change every 100 ms, 20 % every 5 s, 60 % never);
  2. for store = "on_change" and then store = "all": writes a config with 1000 uint16/int16 tags in
     3 blocks with gaps (hr 0-399, 430-729, 760-1059; max_block 125, max_gap 10 -> 10 requests per
     poll planned), poll 100 ms, runs `plantfloor run`, waits --warmup s, then measures a window of
     --seconds: CPU (utime+stime from /proc/<pid>/stat, % of one core), peak RSS (VmHWM), /metrics
     deltas (requests per poll, poll-cycle p50/p99 from the pf_modbus_poll_seconds buckets, samples
     read and stored), bytes the process wrote to storage (/proc/<pid>/io write_bytes) per sample,
     and the database size (history db + -wal) per sample; then SIGTERM and a check of a clean exit;
  3. a pymodbus client loop (pymodbus.client.ModbusTcpClient, a child process) doing exactly the same
     block reads on the same 100 ms absolute deadlines and decoding the registers to ints, measured
     the same way over the same window length. It only reads and decodes: no storage, no API.
Prints a table and the ratios (plantfloor / pymodbus); --json prints one JSON object instead.
Exit status: 0 when every run worked (clean exits, the planned requests, no errors), 1 otherwise;
a missed performance target is reported, and fails the run only with --enforce-targets.
Run with Debian's /usr/bin/python3 (it has pymodbus 3.0).
"""
import argparse
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")
POLL_S = 0.1
MAX_BLOCK = 125
MAX_GAP = 10
RANGES = [(0, 400), (430, 730), (760, 1060)]  # [first, end) holding-register PDU addresses
CPU_TARGET_PCT = 10.0
RSS_TARGET_MB = 50.0
SOURCE = "plc1"


# ---------------------------------------------------------------- the tag set and its read plan

def tag_addresses():
    return [a for first, end in RANGES for a in range(first, end)]


def is_signed(address):
    """The server's analog registers (address % 10 == 1) hold signed values: int16 tags."""
    return address % 10 == 1


def plan_blocks(addresses, max_gap=MAX_GAP, max_block=MAX_BLOCK):
    """The same greedy plan as src/connect/modbus/modbus_plan.cpp for 1-register tags:
    [(start, count, [(offset in block, signed)])]."""
    blocks = []
    end = 0
    for a in sorted(addresses):
        if blocks and a <= end + max_gap and max(a + 1, end) - blocks[-1][0] <= max_block:
            end = max(a + 1, end)
            blocks[-1][1] = end - blocks[-1][0]
            blocks[-1][2].append((a - blocks[-1][0], is_signed(a)))
        else:
            blocks.append([a, 1, [(0, is_signed(a))]])
            end = a + 1
    return [(s, c, items) for s, c, items in blocks]


def write_config(path, data_dir, port, store, flush_interval=None):
    lines = [
        "# written by bench/modbus_poll_bench.py",
        "[plant]", 'name = "bench"', 'site = "bench"', f'data_dir = "{data_dir}"', 'log_level = "info"', "",
        "[api]", 'listen = "127.0.0.1:0"', "",
        "[store]", f'path = "{data_dir}/history.db"',
        *([f'commit_window = "{flush_interval}"'] if flush_interval else []), "",
        "[[assets]]", 'id = "cell1"', 'area = "bench"', 'line = "line1"', "",
        "[[sources]]", f'name = "{SOURCE}"', 'type = "modbus"', f'endpoint = "tcp://127.0.0.1:{port}"',
        'asset = "cell1"', 'poll = "100ms"', 'timeout = "1s"', f"max_gap = {MAX_GAP}", f"max_block = {MAX_BLOCK}", "",
    ]
    for a in tag_addresses():
        lines += ["[[sources.tags]]", f'name = "cell1.hr{a:04d}"', f'address = "hr:{a}"',
                  f'type = "{"int16" if is_signed(a) else "uint16"}"', f'store = "{store}"', ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


# ---------------------------------------------------------------- /proc and /metrics readers

class ProcSnapshot:
    """CPU seconds, memory (kB) and I/O bytes of one process at one instant."""

    def __init__(self, pid):
        self.wall = time.monotonic()
        self.user_s, self.sys_s = self._cpu(f"/proc/{pid}/stat")
        self.cpu_s = self.user_s + self.sys_s
        self.tasks = {}  # tid -> (name, user s, sys s): per-thread CPU, a poor man's profile
        for tid in sorted(int(t) for t in os.listdir(f"/proc/{pid}/task")):
            try:
                with open(f"/proc/{pid}/task/{tid}/comm") as f:
                    name = f.read().strip()
                self.tasks[tid] = (name, *self._cpu(f"/proc/{pid}/task/{tid}/stat"))
            except OSError:
                pass  # the thread ended meanwhile
        status = {}
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                status[key] = value.split()
        self.hwm_kb = int(status["VmHWM"][0])
        self.rss_kb = int(status["VmRSS"][0])
        self.threads = int(status["Threads"][0])
        io = {}
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                key, _, value = line.partition(":")
                io[key] = int(value)
        self.write_bytes = io["write_bytes"]
        self.wchar = io["wchar"]


    @staticmethod
    def _cpu(stat_path):
        with open(stat_path) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK  # utime, stime


def thread_cpu(a, b):
    """Per-thread CPU % of one core over the window, threads in creation order (tid order):
    [(name, user %, sys %)], threads that exist at both ends only."""
    w = b.wall - a.wall
    return [(b.tasks[t][0], 100 * (b.tasks[t][1] - a.tasks[t][1]) / w, 100 * (b.tasks[t][2] - a.tasks[t][2]) / w)
            for t in sorted(b.tasks) if t in a.tasks]


def cpu_pct(a, b):
    return 100.0 * (b.cpu_s - a.cpu_s) / (b.wall - a.wall)


METRIC_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Prometheus text -> {(name, frozenset(labels)): value}."""
    out = {}
    for line in text.splitlines():
        m = METRIC_LINE.match(line)
        if not m or line.startswith("#"):
            continue
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def metric(ms, name, **labels):
    return ms.get((name, frozenset(labels.items())), 0.0)


def metric_sum(ms, name, **labels):
    want = set(labels.items())
    return sum(v for (n, ls), v in ms.items() if n == name and want <= set(ls))


def histogram_buckets(ms, name, **labels):
    """[(upper bound, cumulative count)] sorted by bound; +Inf last."""
    want = set(labels.items())
    out = []
    for (n, ls), v in ms.items():
        if n == name + "_bucket" and want <= set(ls):
            le = dict(ls)["le"]
            out.append((float("inf") if le == "+Inf" else float(le), v))
    return sorted(out)


def bucket_quantile(buckets, q):
    """Prometheus histogram_quantile: linear interpolation inside the bucket that holds q."""
    total = buckets[-1][1] if buckets else 0
    if total == 0:
        return float("nan")
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, cum in buckets:
        if cum >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (rank - below) / max(cum - below, 1e-12)
        lower, below = bound, cum
    return lower


def delta_buckets(a, b):
    before = dict(a)
    return [(bound, cum - before.get(bound, 0.0)) for bound, cum in b]


def to_buckets(values, bounds):
    """Exact samples -> cumulative buckets with the given bounds (for an equal-resolution ratio)."""
    out = [(bd, float(sum(1 for v in values if v <= bd))) for bd in bounds]
    return out + [(float("inf"), float(len(values)))]


def exact_quantile(values, q):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))]


def fetch(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def db_bytes(db):
    return file_size(db) + file_size(db + "-wal")


# ---------------------------------------------------------------- child processes

class LineReader:
    """Collects a child's output lines on a thread; wait_for() finds a line matching a regex."""

    def __init__(self, stream):
        self.lines = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self.thread.start()

    def _run(self, stream):
        for raw in stream:
            with self.cond:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)  # EOF
            self.cond.notify_all()

    def wait_for(self, pattern, timeout):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self.cond:
            while True:
                for line in self.lines[seen:]:
                    if line is None:
                        return None
                    m = rx.search(line)
                    if m:
                        return m
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def text(self, last=40):
        with self.cond:
            return "\n".join(l for l in self.lines[-last:] if l is not None)


def start(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return p, LineReader(p.stdout)


def stop(p, timeout=15):
    """SIGTERM, then the exit status and how long it took (rc None: killed after timeout)."""
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        rc = None
    return rc, time.monotonic() - t0


def sleep_sampling_rss(pid, seconds):
    """Sleeps `seconds`, reading VmRSS once a second; returns the largest (kB)."""
    peak, end = 0, time.monotonic() + seconds
    while True:
        peak = max(peak, ProcSnapshot(pid).rss_kb)
        left = end - time.monotonic()
        if left <= 0:
            return peak
        time.sleep(min(1.0, left))


# ---------------------------------------------------------------- plantfloor run

class BenchError(Exception):
    pass


def scrape(api):
    return parse_metrics(fetch(api + "/metrics"))


def wait_polling(api, reader, p, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if p.poll() is not None:
            raise BenchError(f"plantfloor exited with {p.returncode} while starting:\n{reader.text()}")
        if metric(scrape(api), "pf_modbus_poll_seconds_count", source=SOURCE) >= 10:
            return
        time.sleep(0.2)
    raise BenchError(f"plantfloor did not complete 10 polls in {timeout} s:\n{reader.text()}")


def window_figures(ma, mb, pa, pb):
    d = lambda name, **l: metric(mb, name, **l) - metric(ma, name, **l)
    polls = d("pf_modbus_poll_seconds_count", source=SOURCE)
    buckets = delta_buckets(histogram_buckets(ma, "pf_modbus_poll_seconds", source=SOURCE),
                            histogram_buckets(mb, "pf_modbus_poll_seconds", source=SOURCE))
    read = d("pf_samples_read_total", source=SOURCE)
    stored = d("pf_history_samples_written_total")
    written = pb.write_bytes - pa.write_bytes
    seconds = pb.wall - pa.wall
    return {
        "window_s": seconds,
        "polls": polls,
        "requests": d("pf_modbus_requests_total", source=SOURCE),
        "requests_per_poll": d("pf_modbus_requests_total", source=SOURCE) / polls if polls else float("nan"),
        "skipped_cycles": d("pf_modbus_skipped_cycles_total", source=SOURCE),
        "errors": metric_sum(mb, "pf_modbus_errors_total", source=SOURCE) - metric_sum(ma, "pf_modbus_errors_total", source=SOURCE),
        "cycle_p50_ms": 1e3 * bucket_quantile(buckets, 0.5),
        "cycle_p99_ms": 1e3 * bucket_quantile(buckets, 0.99),
        "cycle_mean_ms": 1e3 * d("pf_modbus_poll_seconds_sum", source=SOURCE) / polls if polls else float("nan"),
        "cycle_buckets": buckets,
        "samples_read": read,
        "samples_read_per_s": read / seconds,
        "samples_stored": stored,
        "samples_stored_per_s": stored / seconds,
        "cpu_pct": cpu_pct(pa, pb),
        "cpu_user_pct": 100 * (pb.user_s - pa.user_s) / seconds,
        "cpu_sys_pct": 100 * (pb.sys_s - pa.sys_s) / seconds,
        "threads_cpu": thread_cpu(pa, pb),
        "write_bytes": written,
        "write_bytes_per_sample_read": written / read if read else float("nan"),
        "write_bytes_per_sample_stored": written / stored if stored else float("nan"),
        "write_mb_per_s": written / seconds / 1e6,
        "wchar_bytes": pb.wchar - pa.wchar,
        "db_growth_bytes": None,  # filled by the caller
    }


def run_plantfloor(args, port, store, workdir):
    data_dir = os.path.join(workdir, f"store_{store}")
    os.makedirs(data_dir)
    config = os.path.join(workdir, f"plant_{store}.toml")
    db = os.path.join(data_dir, "history.db")
    write_config(config, data_dir, port, store, args.flush_interval)
    p, reader = start([args.bin, "run", "--config", config])
    try:
        m = reader.wait_for(r"api: listening on (http://\S+)", 20)
        if not m:
            state = f"exited with code {p.wait(5)}" if p.poll() is not None or not reader.thread.is_alive() else "running"
            raise BenchError(f"plantfloor ({state}) did not report its API address:\n{reader.text()}")
        api = m.group(1)
        wait_polling(api, reader, p)
        time.sleep(max(0.0, args.warmup - 1.0))
        load_before = os.getloadavg()
        ma, pa, db_a = scrape(api), ProcSnapshot(p.pid), db_bytes(db)
        peak_rss = sleep_sampling_rss(p.pid, args.seconds)
        pb, mb, db_b = ProcSnapshot(p.pid), scrape(api), db_bytes(db)
        load_after = os.getloadavg()
    except BaseException:
        p.kill()
        p.wait()
        raise
    r = window_figures(ma, mb, pa, pb)
    r["db_growth_bytes"] = db_b - db_a
    r["db_growth_bytes_per_sample_read"] = (db_b - db_a) / r["samples_read"] if r["samples_read"] else float("nan")
    r["db_growth_bytes_per_sample_stored"] = (db_b - db_a) / r["samples_stored"] if r["samples_stored"] else float("nan")
    r["peak_rss_mib"] = pb.hwm_kb / 1024.0
    r["window_max_rss_mib"] = peak_rss / 1024.0
    r["threads"] = pb.threads
    r["load_avg_before"], r["load_avg_after"] = load_before, load_after
    rc, stop_s = stop(p)
    r["exit_code"], r["stop_s"] = rc, stop_s
    m = reader.wait_for(r"stopped: (\d+) samples in, (\d+) stored", 2)
    r["total_samples_in"] = int(m.group(1)) if m else None
    r["total_samples_stored"] = int(m.group(2)) if m else None
    final = db_bytes(db)
    r["db_bytes_final"] = final
    r["db_bytes_final_per_sample_stored"] = final / r["total_samples_stored"] if m and int(m.group(2)) else float("nan")
    r["db_bytes_final_per_sample_in"] = final / r["total_samples_in"] if m and int(m.group(1)) else float("nan")
    r["log_tail"] = reader.text(8)
    return r


# ---------------------------------------------------------------- the pymodbus client loop

def pymodbus_client_main(port, warmup, seconds):
    """Child process: the same block reads on the same schedule, decoded to ints. Prints WINDOW_START,
    WINDOW_END, then one JSON line with the cycle times (s) inside the window."""
    from pymodbus.client import ModbusTcpClient
    blocks = plan_blocks(tag_addresses())
    values = [0] * sum(len(items) for _, _, items in blocks)
    client = ModbusTcpClient("127.0.0.1", port=port, timeout=1)
    if not client.connect():
        print(json.dumps({"error": f"pymodbus: cannot connect to 127.0.0.1:{port}"}), flush=True)
        return 1
    times, errors, skipped, requests = [], 0, 0, 0
    t_start = time.monotonic()
    window_start, window_end = t_start + warmup, t_start + warmup + seconds
    in_window = False
    next_deadline = t_start
    while True:
        now = time.monotonic()
        if now < next_deadline:
            time.sleep(next_deadline - now)
        now = time.monotonic()
        if not in_window and now >= window_start:
            in_window = True
            print("WINDOW_START", flush=True)
        if now >= window_end:
            break
        t0 = time.perf_counter()
        k = 0
        for start_addr, count, items in blocks:
            requests += 1
            rr = client.read_holding_registers(start_addr, count, slave=1)
            if rr.isError():
                errors += 1
                k += len(items)
                continue
            regs = rr.registers
            for offset, signed in items:
                v = regs[offset]
                values[k] = v - 65536 if signed and v >= 32768 else v
                k += 1
        dt = time.perf_counter() - t0
        if in_window:
            times.append(dt)
        next_deadline += POLL_S
        now = time.monotonic()
        if now > next_deadline:  # overrun: skip the missed deadlines, like plantfloor
            missed = int((now - next_deadline) / POLL_S) + 1
            next_deadline += missed * POLL_S
            skipped += missed if in_window else 0
    print("WINDOW_END", flush=True)
    client.close()
    print(json.dumps({"times": times, "errors": errors, "skipped": skipped,
                      "requests_per_cycle": len(blocks), "values": len(values)}), flush=True)
    return 0


def run_pymodbus(args, port):
    cmd = [sys.executable, os.path.abspath(__file__), "--pymodbus-client", str(port),
           "--warmup", str(args.warmup), "--seconds", str(args.seconds)]
    p, reader = start(cmd)
    try:
        if not reader.wait_for(r"^WINDOW_START$", args.warmup + 20):
            raise BenchError(f"pymodbus client did not start its window:\n{reader.text()}")
        pa = ProcSnapshot(p.pid)
        if not reader.wait_for(r"^WINDOW_END$", args.seconds + 20):
            raise BenchError(f"pymodbus client did not end its window:\n{reader.text()}")
        pb = ProcSnapshot(p.pid)
        m = reader.wait_for(r"^(\{.*\})$", 20)
        rc = p.wait(20)
    except BaseException:
        p.kill()
        p.wait()
        raise
    if not m or rc != 0:
        raise BenchError(f"pymodbus client failed (exit {rc}):\n{reader.text()}")
    out = json.loads(m.group(1))
    times = out["times"]
    return {
        "window_s": pb.wall - pa.wall,
        "cycles": len(times),
        "requests_per_poll": out["requests_per_cycle"],
        "skipped_cycles": out["skipped"],
        "errors": out["errors"],
        "values_per_cycle": out["values"],
        "cycle_p50_ms": 1e3 * exact_quantile(times, 0.5),
        "cycle_p99_ms": 1e3 * exact_quantile(times, 0.99),
        "cycle_mean_ms": 1e3 * sum(times) / len(times) if times else float("nan"),
        "cycle_times": times,
        "cpu_pct": cpu_pct(pa, pb),
        "cpu_user_pct": 100 * (pb.user_s - pa.user_s) / (pb.wall - pa.wall),
        "cpu_sys_pct": 100 * (pb.sys_s - pa.sys_s) / (pb.wall - pa.wall),
        "peak_rss_mib": pb.hwm_kb / 1024.0,
        "exit_code": rc,
    }


# ---------------------------------------------------------------- report

def checks(results, planned, args):
    """Whether the runs did what the bench claims (not the performance targets)."""
    problems = []
    expect_polls = 0.9 * args.seconds / POLL_S
    for store, r in results["plantfloor"].items():
        tag = f"plantfloor store={store}"
        if r["exit_code"] != 0:
            problems.append(f"{tag}: exit code {r['exit_code']} after SIGTERM (want 0)")
        if r["polls"] < expect_polls:
            problems.append(f"{tag}: {r['polls']:.0f} polls in {r['window_s']:.1f} s (want >= {expect_polls:.0f})")
        if abs(r["requests_per_poll"] - planned) > 0.05:
            problems.append(f"{tag}: {r['requests_per_poll']:.2f} requests per poll (planned {planned})")
        if r["errors"]:
            problems.append(f"{tag}: {r['errors']:.0f} Modbus errors")
        if r["polls"] and abs(r["samples_read"] / r["polls"] - len(tag_addresses())) > 5:
            problems.append(f"{tag}: {r['samples_read'] / r['polls']:.1f} samples per poll (want {len(tag_addresses())})")
    pm = results["pymodbus"]
    if pm["errors"]:
        problems.append(f"pymodbus: {pm['errors']} errors")
    if pm["cycles"] < expect_polls:
        problems.append(f"pymodbus: {pm['cycles']} cycles in {pm['window_s']:.1f} s (want >= {expect_polls:.0f})")
    return problems


def ratios(pf, pm):
    """plantfloor (one store mode) / pymodbus. Cycle quantiles of both come from the same buckets."""
    bounds = [b for b, _ in pf["cycle_buckets"] if b != float("inf")]
    pm_b = to_buckets(pm["cycle_times"], bounds)
    pm_b50, pm_b99 = 1e3 * bucket_quantile(pm_b, 0.5), 1e3 * bucket_quantile(pm_b, 0.99)
    div = lambda a, b: a / b if b else float("nan")
    return {
        "cpu": div(pf["cpu_pct"], pm["cpu_pct"]),
        "cycle_p50": div(pf["cycle_p50_ms"], pm_b50),
        "cycle_p99": div(pf["cycle_p99_ms"], pm_b99),
        "cycle_mean": div(pf["cycle_mean_ms"], pm["cycle_mean_ms"]),
        "peak_rss": div(pf["peak_rss_mib"], pm["peak_rss_mib"]),
        "pymodbus_bucketed_p50_ms": pm_b50,
        "pymodbus_bucketed_p99_ms": pm_b99,
    }


TABLE_ROWS = [  # label, format, key in a plantfloor result, key in the pymodbus result (None: "-")
    ("requests per poll (measured)", "{:.2f}", "requests_per_poll", "requests_per_poll"),
    ("polls / cycles in window", "{:.0f}", "polls", "cycles"),
    ("skipped cycles", "{:.0f}", "skipped_cycles", "skipped_cycles"),
    ("Modbus errors", "{:.0f}", "errors", "errors"),
    ("cycle p50 ms", "{:.3f}", "cycle_p50_ms", "cycle_p50_ms"),
    ("cycle p99 ms", "{:.3f}", "cycle_p99_ms", "cycle_p99_ms"),
    ("cycle mean ms", "{:.3f}", "cycle_mean_ms", "cycle_mean_ms"),
    ("CPU % of one core", "{:.2f}", "cpu_pct", "cpu_pct"),
    ("  of which user", "{:.2f}", "cpu_user_pct", "cpu_user_pct"),
    ("  of which kernel", "{:.2f}", "cpu_sys_pct", "cpu_sys_pct"),
    ("peak RSS MiB (VmHWM)", "{:.1f}", "peak_rss_mib", "peak_rss_mib"),
    ("samples read /s", "{:.0f}", "samples_read_per_s", None),
    ("samples stored /s", "{:.0f}", "samples_stored_per_s", None),
    ("bytes written / sample read", "{:.1f}", "write_bytes_per_sample_read", None),
    ("bytes written / sample stored", "{:.1f}", "write_bytes_per_sample_stored", None),
    ("MB written / s", "{:.2f}", "write_mb_per_s", None),
    ("db+wal growth / sample read", "{:.1f}", "db_growth_bytes_per_sample_read", None),
    ("db+wal growth / sample stored", "{:.1f}", "db_growth_bytes_per_sample_stored", None),
    ("db after exit / sample stored", "{:.1f}", "db_bytes_final_per_sample_stored", None),
    ("exit code after SIGTERM", "{}", "exit_code", "exit_code"),
    ("shutdown s", "{:.2f}", "stop_s", None),
]


def print_table(results, planned):
    pf, pm = results["plantfloor"], results["pymodbus"]
    print(f"\nModbus polling benchmark: {len(tag_addresses())} tags, poll {POLL_S * 1e3:.0f} ms, "
          f"{planned} block reads planned per poll, window {results['seconds']} s after {results['warmup']} s warmup, "
          f"history flush_interval {results['flush_interval']}")
    print(f"machine: {results['machine']['cpu']}, {results['machine']['cores']} cores, kernel "
          f"{results['machine']['kernel']}; load average at start {results['load_avg_start']}")
    heads = [f"plantfloor {store}" for store in pf] + ["pymodbus loop"]
    print(f"\n{'':32}" + "".join(f"{h:>22}" for h in heads))
    for label, fmtx, key, pm_key in TABLE_ROWS:
        cells = [fmtx.format(r[key]) for r in pf.values()] + [fmtx.format(pm[pm_key]) if pm_key else "-"]
        print(f"{label:32}" + "".join(f"{c:>22}" for c in cells))
    print("\nbytes written = /proc/<pid>/io write_bytes (what the process sent to storage: db, WAL, checkpoints).")
    print("plantfloor cycle times: interpolated inside the pf_modbus_poll_seconds buckets "
          "(bounds 0.1/0.25/0.5/1/2.5/5/10 ms ...); pymodbus: exact.")
    print("The pymodbus loop only reads and decodes (no storage, no API, no bus); plantfloor runs the whole runtime.")
    for store, r in pf.items():
        busy = [f"#{i} {u + k:.2f}% ({u:.2f} user)" for i, (_, u, k) in enumerate(r["threads_cpu"]) if u + k > 0]
        print(f"plantfloor {store}: CPU by thread (creation order, idle ones left out): {', '.join(busy) or 'none'}")
    print()
    for store, rt in results["ratios"].items():
        print(f"ratios plantfloor({store}) / pymodbus: CPU {rt['cpu']:.2f}x, cycle p50 {rt['cycle_p50']:.2f}x, "
              f"p99 {rt['cycle_p99']:.2f}x (same buckets: pymodbus p50 {rt['pymodbus_bucketed_p50_ms']:.3f} ms, "
              f"p99 {rt['pymodbus_bucketed_p99_ms']:.3f} ms), mean {rt['cycle_mean']:.2f}x, peak RSS {rt['peak_rss']:.2f}x")
    for store, r in pf.items():
        cpu_ok = "met" if r["cpu_pct"] < CPU_TARGET_PCT else "MISSED"
        rss_ok = "met" if r["peak_rss_mib"] < RSS_TARGET_MB else "MISSED"
        print(f"targets store={store}: CPU {r['cpu_pct']:.2f}% < {CPU_TARGET_PCT:.0f}% {cpu_ok}; "
              f"peak RSS {r['peak_rss_mib']:.1f} MiB < {RSS_TARGET_MB:.0f} MB {rss_ok}")


def json_safe(x):
    """inf/nan as strings ("+Inf", "NaN") so that the output is strict JSON."""
    if isinstance(x, float) and (x != x or x in (float("inf"), float("-inf"))):
        return "NaN" if x != x else ("+Inf" if x > 0 else "-Inf")
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    return x


def machine():
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", help="the plantfloor binary")
    ap.add_argument("--server", help="the modbus_bench_server binary")
    ap.add_argument("--seconds", type=float, default=60, help="measured window per run (default 60)")
    ap.add_argument("--warmup", type=float, default=3, help="seconds before the window (default 3)")
    ap.add_argument("--flush-interval", help='[store] commit_window, e.g. "1s" (default: the runtime default, 200ms)')
    ap.add_argument("--stores", default="on_change,all", type=lambda v: v.split(","),
                    help='store modes to run plantfloor with, in order (default "on_change,all"; also "none")')
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--enforce-targets", action="store_true", help="exit 1 when a CPU or RSS target is missed")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (configs, databases)")
    ap.add_argument("--pymodbus-client", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.pymodbus_client:
        return pymodbus_client_main(args.pymodbus_client, args.warmup, args.seconds)
    if not args.bin or not args.server:
        ap.error("--bin and --server are required")
    bad = [s for s in args.stores if s not in ("on_change", "all", "none")]
    if bad or not args.stores:
        ap.error(f"--stores: {','.join(bad) or 'empty'}: expected on_change, all or none")

    planned = len(plan_blocks(tag_addresses()))
    results = {"seconds": args.seconds, "warmup": args.warmup, "flush_interval": args.flush_interval or "default", "machine": machine(),
               "load_avg_start": tuple(round(x, 2) for x in os.getloadavg()),
               "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "tags": len(tag_addresses()),
               "planned_requests_per_poll": planned, "plantfloor": {}}
    workdir = tempfile.mkdtemp(prefix="pf_modbus_bench_")
    server, server_out = start([args.server, "0", "1200"])
    try:
        m = server_out.wait_for(r"READY 127\.0\.0\.1:(\d+)", 10)
        if not m:
            raise BenchError(f"modbus_bench_server did not start:\n{server_out.text()}")
        port = int(m.group(1))
        for store in args.stores:
            results["plantfloor"][store] = run_plantfloor(args, port, store, workdir)
        results["pymodbus"] = run_pymodbus(args, port)
    except BenchError as e:
        print(f"bench_modbus_poll: {e}", file=sys.stderr)
        return 1
    finally:
        server_rc, _ = stop(server)
        if not args.keep:
            subprocess.run(["rm", "-rf", workdir], check=False)
    m = server_out.wait_for(r"STOPPED requests=(\d+)", 2)
    results["server_requests_served"] = int(m.group(1)) if m else None
    results["server_exit_code"] = server_rc
    results["load_avg_end"] = tuple(round(x, 2) for x in os.getloadavg())
    results["ratios"] = {store: ratios(r, results["pymodbus"]) for store, r in results["plantfloor"].items()}
    problems = checks(results, planned, args)
    if args.enforce_targets:
        for store, r in results["plantfloor"].items():
            if r["cpu_pct"] >= CPU_TARGET_PCT:
                problems.append(f"plantfloor store={store}: CPU {r['cpu_pct']:.2f}% (target < {CPU_TARGET_PCT}%)")
            if r["peak_rss_mib"] >= RSS_TARGET_MB:
                problems.append(f"plantfloor store={store}: peak RSS {r['peak_rss_mib']:.1f} MiB (target < {RSS_TARGET_MB} MB)")
    results["problems"] = problems
    if args.json:
        results["pymodbus"].pop("cycle_times")
        print(json.dumps(json_safe(results), indent=1))
    else:
        print_table(results, planned)
        print(f"load average at end {results['load_avg_end']}; server answered {results['server_requests_served']} requests")
        for p in problems:
            print(f"PROBLEM: {p}")
        if args.keep:
            print(f"work folder kept: {workdir}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
