"""Reads the history records of an offline `.wandb` file (wandb 0.31 ships no Python reader).

The file is a ':W&B' header (7 bytes) then a leveldb log: 32 KiB blocks of records (crc32 4 B, length 2 B,
type 1 B: 1 full, 2 first, 3 middle, 4 last) whose payloads are `wandb_internal_pb2.Record` protobufs.
"""

import json
import struct

from wandb.proto import wandb_internal_pb2

BLOCK = 32768
HEADER = 7


def records(path):
  data = open(path, "rb").read()
  assert data[:4] == b":W&B", f"{path}: not a .wandb file"
  pos, pending = HEADER, b""
  while pos + 7 <= len(data):
    left_in_block = BLOCK - pos % BLOCK
    if left_in_block < 7:  # trailer padding
      pos += left_in_block
      continue
    _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
    if kind == 0 and length == 0:
      pos += left_in_block
      continue
    payload = data[pos + 7:pos + 7 + length]
    pos += 7 + length
    if kind == 1:
      yield payload
    elif kind == 2:
      pending = payload
    elif kind == 3:
      pending += payload
    elif kind == 4:
      yield pending + payload


def history(path) -> list[dict]:
  rows = []
  for payload in records(path):
    record = wandb_internal_pb2.Record()
    record.ParseFromString(payload)
    if record.WhichOneof("record_type") == "history":
      rows.append({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                   for item in record.history.item})
  return rows
