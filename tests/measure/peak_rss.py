"""Runs a command, feeds its stdin as MODE says, and prints what it cost as one JSON line:
the peak resident memory of the command (getrusage of the child), the seconds it ran, its exit
code and the first line of its stderr and stdout.

Modes: `label:MB` (a register_round request whose title is MB mebibytes), `endless` (`y`s until
the command stops reading), `mcp:MB` (an MCP session: initialize, one tools/call line of MB
mebibytes, a ping; then end of input)."""

import json
import resource
import subprocess
import sys
import time

CHUNK = b"y" * (1 << 20)


def feed(process, mode):
    stdin = process.stdin
    if mode.startswith("label:"):
        stdin.write(b'{"round": 2, "title": "')
        for _ in range(int(mode[6:])):
            stdin.write(CHUNK)
        stdin.write(b'"}')
    elif mode == "endless":
        while True:
            stdin.write(CHUNK)
    elif mode.startswith("mcp:"):
        stdin.write(json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "measure", "version": "1"}}}).encode() + b"\n")
        stdin.write(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n')
        stdin.write(b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": '
                    b'{"name": "create_dialogue", "arguments": {"request": {"question": "q", "title": "')
        for _ in range(int(mode[4:])):
            stdin.write(CHUNK)
        stdin.write(b'"}}}}\n')
        stdin.write(b'{"jsonrpc": "2.0", "id": 2, "method": "ping"}\n')
    else:
        raise SystemExit(f"unknown mode {mode}")


def main():
    mode, command = sys.argv[1], sys.argv[2:]
    start = time.monotonic()
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        feed(process, mode)
        process.stdin.close()
    except BrokenPipeError:
        # The command stopped reading (as it should, past its limit).
        try:
            process.stdin.close()
        except BrokenPipeError:
            pass
    process.stdin = None
    stdout, stderr = process.communicate()
    seconds = time.monotonic() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({
        "mode": mode, "exit": process.returncode, "seconds": round(seconds, 2),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "stderr": stderr.decode("utf-8", "replace").strip().splitlines()[-3:],
        "stdout": [line for line in stdout.decode("utf-8", "replace").splitlines()],
    }))


main()
