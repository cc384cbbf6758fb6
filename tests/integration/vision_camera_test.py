#!/usr/bin/python3
"""Vision station with a GigE Vision camera (issue 10): aravis' fake camera (arv-fake-gv-camera-0.8, the
peer) on 127.0.0.1, `plantfloor inspect --watch DIR --camera 127.0.0.1 --camera-fps 10` with the committed
NEU int8 model. Checks: camera frames are inspected (journal lines with source "camera", increasing
frame ids in the part ids, each with a verdict and its timing) within 10 s.
Environment: PF_BIN, PF_SOURCE_DIR. Exit 77 (skipped) without aravis-tools.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

FAKE = "/usr/bin/arv-fake-gv-camera-0.8"


def main():
    if not os.path.exists(FAKE):
        print("skipped: aravis-tools (arv-fake-gv-camera-0.8) not installed")
        return 77
    pf = os.environ.get("PF_BIN", "build/src/cli/plantfloor")
    src = os.environ.get("PF_SOURCE_DIR", ".")
    model = os.path.join(src, "tests", "fixtures", "models", "neu_cnn_int8.onnx")
    fake = subprocess.Popen([FAKE, "-i", "127.0.0.1", "-s", "PFCAM"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    station = None
    try:
        with tempfile.TemporaryDirectory() as d:
            deadline = time.monotonic() + 10
            while True:  # the fake camera needs a moment before it answers
                station = subprocess.Popen([pf, "inspect", "--model", model, "--watch", d, "--camera", "127.0.0.1",
                                            "--camera-fps", "10"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                           text=True, env=dict(os.environ, OMP_WAIT_POLICY="passive"))
                line = station.stdout.readline()
                if line.startswith("READY") or time.monotonic() > deadline:
                    break
                station.wait()
                time.sleep(0.3)
            if not line.startswith("READY"):
                print("FAIL: station did not start:", line, station.stderr.read())
                return 1
            frames = []
            t0 = time.monotonic()
            while len(frames) < 10 and time.monotonic() - t0 < 10:
                line = station.stdout.readline()
                if not line:
                    break
                j = json.loads(line)
                if j.get("source") == "camera":
                    frames.append(j)
            station.send_signal(signal.SIGTERM)
            station.wait(timeout=10)
            ids = [int(f["part_id"].rsplit("-", 1)[1]) for f in frames]
            summary = {"frames_inspected": len(frames), "frame_ids": ids,
                       "verdicts": sorted({f["verdict"] for f in frames}),
                       "total_ms_max": max((f["total_ms"] for f in frames), default=None)}
            print(json.dumps(summary))
            # GigE Vision block ids are 16-bit here: they may wrap, but each frame is a new one.
            steps = [(b - a) % 65536 for a, b in zip(ids, ids[1:])]
            ok = len(frames) >= 10 and all(0 < s < 1000 for s in steps) and \
                all(f["verdict"] in ("accept", "reject", "uncertain") and "decode" not in f["reason"] for f in frames)
            print("PASS" if ok else "FAIL")
            return 0 if ok else 1
    finally:
        if station and station.poll() is None:
            station.kill()
        fake.terminate()
        fake.wait()


if __name__ == "__main__":
    sys.exit(main())
