#!/usr/bin/env python3
"""trace.py — what tcpwave's JSON trace (tcpwave tun --format json) says about tcpwave's side.

  trace.py states FILE   the chain of tcpwave's states, e.g. "LISTEN SYN_RCVD ESTABLISHED ..."
                         (one line per connection: a new line starts at each state change out
                         of CLOSED or LISTEN)
  trace.py apps FILE     tcpwave's application events, e.g. "connected data eof"
"""
import json
import sys


def events(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    yield json.loads(line)
                except ValueError:
                    pass


def main():
    what, path = sys.argv[1], sys.argv[2]
    if what == "states":
        chains = []
        for e in events(path):
            if e.get("ev") != "state" or e.get("who") != "tcpwave":
                continue
            if e["from"] in ("CLOSED", "LISTEN") or not chains or chains[-1][-1] != e["from"]:
                chains.append([e["from"]])
            chains[-1].append(e["to"])
        for c in chains:
            print(" ".join(c))
    elif what == "apps":
        print(" ".join(e["what"] for e in events(path)
                       if e.get("ev") == "app" and e.get("who") == "tcpwave"))
    else:
        sys.exit("usage: trace.py states|apps FILE")


if __name__ == "__main__":
    main()
