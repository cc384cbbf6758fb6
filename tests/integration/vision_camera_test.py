#!/usr/bin/python3
"""Vision station with a GigE Vision camera (issue 10): aravis' fake camera (arv-fake-gv-camera-0.8, the
peer) on 127.0.0.1, `plantfloor inspect --watch DIR --camera 127.0.0.1 --camera-fps 10` with the committed
NEU int8 model. Checks: camera frames are inspected (journal lines with source "camera", increasing
frame ids in the part ids, each with a verdict and its timing) within 10 s. Then the camera is killed
(-9): the station reports it lost and keeps judging folder images; the camera is started again: the
station reopens it and its frames are inspected again.
Environment: PF_BIN, PF_SOURCE_DIR. Exit 77 (skipped) without aravis-tools.
"""
import json
import os
import signal
import subprocess
import sys
import shutil
import tempfile
import threading
import time

FAKE = "/usr/bin/arv-fake-gv-camera-0.8"


def main():
    if not os.path.exists(FAKE):
        print("skipped: aravis-tools (arv-fake-gv-camera-0.8) not installed")
        return 77
    pf = os.environ.get("PF_BIN", "build/src/cli/plantfloor")
    src = os.environ.get("PF_SOURCE_DIR", ".")
    model = os.path.join(src, "tests", "fixtures", "models", "neu_cnn_int8.onnx")
    fixture = os.path.join(src, "tests", "fixtures", "images", "gray8.png")
    start_fake = lambda: subprocess.Popen([FAKE, "-i", "127.0.0.1", "-s", "PFCAM"], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL)
    fake = start_fake()
    station = None
    try:
        with tempfile.TemporaryDirectory() as d:
            watch = os.path.join(d, "in")
            os.mkdir(watch)
            log_path = os.path.join(d, "station.log")
            deadline = time.monotonic() + 10
            while True:  # the fake camera needs a moment before it answers
                log = open(log_path, "w")
                station = subprocess.Popen([pf, "inspect", "--model", model, "--watch", watch, "--camera", "127.0.0.1",
                                            "--camera-fps", "10", "--settle-ms", "200"], stdout=subprocess.PIPE,
                                           stderr=log, text=True, env=dict(os.environ, OMP_WAIT_POLICY="passive"))
                line = station.stdout.readline()
                if line.startswith("READY") or time.monotonic() > deadline:
                    break
                station.wait()
                time.sleep(0.3)
            if not line.startswith("READY"):
                print("FAIL: station did not start:", line, open(log_path).read())
                return 1
            lines = []
            lock = threading.Lock()

            def reader():
                for l in station.stdout:
                    with lock:
                        lines.append(json.loads(l))
            threading.Thread(target=reader, daemon=True).start()

            def wait_for(pred, n, seconds):
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    with lock:
                        got = [j for j in lines if pred(j)]
                    if len(got) >= n:
                        return got
                    time.sleep(0.05)
                with lock:
                    return [j for j in lines if pred(j)]

            def log_has(text, seconds):
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    if text in open(log_path).read():
                        return True
                    time.sleep(0.1)
                return False

            frames = wait_for(lambda j: j.get("source") == "camera", 10, 10)[:10]
            ids = [int(f["part_id"].rsplit("-", 1)[1]) for f in frames]
            # GigE Vision block ids are 16-bit here: they may wrap, but each frame is a new one.
            steps = [(b - a) % 65536 for a, b in zip(ids, ids[1:])]
            first_ok = len(frames) >= 10 and all(0 < s < 1000 for s in steps) and \
                all(f["verdict"] in ("accept", "reject", "uncertain") and "decode" not in f["reason"] for f in frames)

            # The camera dies: reported, the station keeps judging the folder.
            fake.kill()
            fake.wait()
            lost = log_has("camera 127.0.0.1 lost", 20)
            shutil.copy(fixture, os.path.join(d, "part-1.png"))
            os.rename(os.path.join(d, "part-1.png"), os.path.join(watch, "part-1.png"))
            folder = wait_for(lambda j: j.get("source") == "folder", 1, 10)
            alive = station.poll() is None
            # It comes back: reopened, frames again.
            with lock:
                before = len(lines)
            fake = start_fake()
            restored = log_has("camera 127.0.0.1 restored", 30)
            again = wait_for(lambda j: j.get("source") == "camera", len(frames) + 5, 15)
            with lock:
                new_frames = [j for j in lines[before:] if j.get("source") == "camera"]
            station.send_signal(signal.SIGTERM)
            station.wait(timeout=10)
            summary = {"frames_inspected": len(frames), "frame_ids": ids,
                       "verdicts": sorted({f["verdict"] for f in frames}),
                       "total_ms_max": max((f["total_ms"] for f in frames), default=None),
                       "lost_reported": lost, "folder_judged_while_lost": len(folder), "alive": alive,
                       "restored_reported": restored, "frames_after_restart": len(new_frames)}
            print(json.dumps(summary))
            ok = first_ok and lost and len(folder) == 1 and alive and restored and len(new_frames) >= 5
            if not ok:
                print(open(log_path).read()[-3000:])
            print("PASS" if ok else "FAIL")
            return 0 if ok else 1
    finally:
        if station and station.poll() is None:
            station.kill()
        fake.terminate()
        fake.wait()


if __name__ == "__main__":
    sys.exit(main())
