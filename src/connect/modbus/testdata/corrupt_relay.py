#!/usr/bin/python3
"""Relays bytes between two serial devices (socat ptys) and corrupts a share of the frames: in a
chosen frame one byte is XORed with a non-zero mask. A frame is a burst of bytes ended by 3 ms of
silence. Counts go to stdout on SIGTERM.
usage: corrupt_relay.py CLIENT_SIDE_DEV SERVER_SIDE_DEV SHARE SEED"""
import os, random, select, signal, sys, time

a_dev, b_dev, share, seed = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
a, b = os.open(a_dev, os.O_RDWR | os.O_NOCTTY), os.open(b_dev, os.O_RDWR | os.O_NOCTTY)
peer = {a: b, b: a}
frames = corrupted = 0

def done(*_):
    print("frames=%d corrupted=%d" % (frames, corrupted), flush=True)
    sys.exit(0)

signal.signal(signal.SIGTERM, done)
print("READY relay", flush=True)
while True:
    ready, _, _ = select.select([a, b], [], [])
    for fd in ready:
        buf = bytearray(os.read(fd, 512))
        while select.select([fd], [], [], 0.003)[0]:
            buf += os.read(fd, 512)
        frames += 1
        if buf and rng.random() < share:
            buf[rng.randrange(len(buf))] ^= rng.randrange(1, 256)
            corrupted += 1
        os.write(peer[fd], bytes(buf))
