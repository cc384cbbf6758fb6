#!/usr/bin/python3
"""Writes typed values into holding registers with pymodbus' TCP client (independent of plantfloor),
then reads them back to prove the write landed.
usage: write_values.py PORT JSON   JSON: [{"offset": 2, "type": "int32", "order": "cdab", "value": -5, "count": 0}]"""
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from encode_registers import encode
from pymodbus.client import ModbusTcpClient

port, items = int(sys.argv[1]), json.loads(sys.argv[2])
client = ModbusTcpClient("127.0.0.1", port=port, timeout=3)
if not client.connect():
    sys.exit("cannot connect to 127.0.0.1:%d" % port)
for it in items:
    regs = encode(it["value"], it["type"], it["order"], it.get("count", 0))
    rr = client.write_registers(it["offset"], regs, slave=1)
    if rr.isError():
        sys.exit("write %s failed: %s" % (it, rr))
    back = client.read_holding_registers(it["offset"], len(regs), slave=1)
    if back.isError() or back.registers != regs:
        sys.exit("readback of %s: %s != %s" % (it, getattr(back, "registers", back), regs))
    print("hr:%d %s %s %r -> %s" % (it["offset"], it["type"], it["order"], it["value"], " ".join("%04x" % r for r in regs)))
client.close()
