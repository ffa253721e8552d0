"""When each card's frame was on the wire: a loopback capture joined with a hopbench run.

    tcpdump -i lo -s 0 -w /tmp/cap.pcap tcp port 3911 &      # while scripts.hopbench runs
    tcpdump -r /tmp/cap.pcap -tt -nn -A > /tmp/cap.txt
    python -m scripts.pcap_cards /tmp/cap.txt bench-results/hop-….json --port 3911

Server-to-browser websocket frames are unmasked, so each card's first packet is found by its
`tool_call_id` and `started_at_ms`. Prints, per card, the server's `written` hop, the packet's
time on the wire and the page's `frame` hop (all ms after the event), and the packets around it.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

HEADER = re.compile(r"^(\d+\.\d+) IP [\d.]+\.(\d+) > [\d.]+\.(\d+): Flags \[([^\]]*)\].*length (\d+)")


def packets(text: str) -> list[dict]:
    found, current = [], None
    for line in text.split("\n"):
        if match := HEADER.match(line):
            current = {
                "t": float(match[1]),
                "src": int(match[2]),
                "dst": int(match[3]),
                "flags": match[4],
                "len": int(match[5]),
                "body": "",
            }
            found.append(current)
        elif current is not None:
            current["body"] += line
    return found


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.pcap_cards")
    parser.add_argument("capture", type=Path, help="tcpdump -tt -nn -A output")
    parser.add_argument("run", type=Path, help="hopbench JSON")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--context", type=int, default=0, help="packets to show around each card")
    args = parser.parse_args()
    pkts = packets(args.capture.read_text(encoding="utf-8", errors="replace"))
    rows = json.loads(args.run.read_text())["reflex_rows"]
    wire_minus_written, frame_minus_wire = [], []
    for row in rows:
        t0, started = row["t0"], int(row["t0"] * 1000)
        hit = next(
            (
                p
                for p in pkts
                if p["src"] == args.port and row["tool_call_id"] in p["body"] and str(started) in p["body"]
            ),
            None,
        )
        if hit is None:
            continue
        wire = (hit["t"] - t0) * 1000
        print(
            f"{row['tool'][:28]:<28} written {row.get('written', float('nan')):6.1f}  wire {wire:6.1f}  "
            f"frame at page {row.get('frame', float('nan')):6.1f} ms"
        )
        if "written" in row:
            wire_minus_written.append(wire - row["written"])
        if "frame" in row:
            frame_minus_wire.append(row["frame"] - wire)
        if args.context:
            i = pkts.index(hit)
            for p in pkts[max(0, i - args.context) : i + args.context + 1]:
                print(
                    f"      {(p['t'] - t0) * 1000:+8.1f} {p['src']}>{p['dst']} [{p['flags']}] len {p['len']}"
                )
    if frame_minus_wire:
        print(
            f"\nwire − written: median {statistics.median(wire_minus_written):.1f} ms; "
            f"page − wire: median {statistics.median(frame_minus_wire):.1f} ms, max {max(frame_minus_wire):.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
