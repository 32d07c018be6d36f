#!/usr/bin/env python3
"""Reads the TensorBoard event files in FOLDER with the tensorboard package's own readers and prints
what they found as one JSON object, so GoodInit's writer is checked against the reader TensorBoard
uses (TensorBoardTests runs it). Needs `python3 -m pip install tensorboard`; TensorFlow is not needed.

Usage: scripts/read_tfevents.py FOLDER
"""
import glob
import json
import os
import sys

from tensorboard.backend.event_processing import event_accumulator, event_file_loader
from tensorboard.backend.event_processing import plugin_event_accumulator
from tensorboard.compat.proto import event_pb2
from tensorboard.util import tensor_util


def read_file(path):
    events, consumed, canonical = [], 0, True
    # The raw loader checks both CRCs of every record; on a bad one it stops early without
    # raising, which `complete` (every byte of the file read) exposes.
    for record in event_file_loader.RawEventFileLoader(path).Load():
        consumed += len(record) + 16
        event = event_pb2.Event.FromString(record)
        # Our bytes should be what protobuf itself writes for the same message.
        canonical = canonical and event.SerializeToString() == record
        events.append({
            "wall_time": event.wall_time,
            "step": event.step,
            "what": event.WhichOneof("what"),
            "file_version": event.file_version,
            "values": [[v.tag, v.simple_value] for v in event.summary.value],
        })
    return {
        "name": os.path.basename(path),
        "events": events,
        "complete": consumed == os.path.getsize(path),
        "canonical": canonical,
    }


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    folder = sys.argv[1]
    files = sorted(glob.glob(os.path.join(folder, "*tfevents*")))
    # EventAccumulator is how TensorBoard's legacy backend turns a run folder into charts.
    accumulator = event_accumulator.EventAccumulator(folder)
    accumulator.Reload()
    scalars = {
        tag: [[s.step, s.value, s.wall_time] for s in accumulator.Scalars(tag)]
        for tag in accumulator.Tags()["scalars"]
    }
    # The server's path: simple_value migrated to a tensor and tagged for the scalars dashboard.
    plugin = plugin_event_accumulator.EventAccumulator(folder)
    plugin.Reload()
    try:
        dashboard_tags = plugin.PluginTagToContent("scalars").keys()
    except KeyError:
        dashboard_tags = []
    dashboard = {
        tag: [[t.step, tensor_util.make_ndarray(t.tensor_proto).item()] for t in plugin.Tensors(tag)]
        for tag in dashboard_tags
    }
    json.dump({"files": [read_file(f) for f in files], "scalars": scalars, "dashboard": dashboard}, sys.stdout)


if __name__ == "__main__":
    main()
