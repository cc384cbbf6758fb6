#!/usr/bin/python3
"""Modbus RTU slave (pymodbus 3.0 serial server, ModbusRtuFramer) on a serial device (a socat pty).
usage: rtu_server.py DEVICE BAUD JSON   JSON as for write_values.py: the holding registers it serves."""
import asyncio, json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from encode_registers import encode
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusSlaveContext, ModbusServerContext
from pymodbus.server import StartAsyncSerialServer
from pymodbus.transaction import ModbusRtuFramer

device, baud, items = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
hr = [0] * 100
for it in items:
    regs = encode(it["value"], it["type"], it["order"], it.get("count", 0))
    hr[it["offset"]:it["offset"] + len(regs)] = regs
slave = ModbusSlaveContext(hr=ModbusSequentialDataBlock(0, hr), ir=ModbusSequentialDataBlock(0, [0] * 100),
                           co=ModbusSequentialDataBlock(0, [False] * 100), di=ModbusSequentialDataBlock(0, [False] * 100),
                           zero_mode=True)
ctx = ModbusServerContext(slaves=slave, single=True)
print("READY rtu", device, flush=True)
asyncio.run(StartAsyncSerialServer(context=ctx, framer=ModbusRtuFramer, port=device, baudrate=baud))
