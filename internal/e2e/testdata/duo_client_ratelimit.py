#!/usr/bin/python3
"""Flood an Assent server with pushes through Debian's python3-duo-client.

Run by internal/e2e (TestBinary/RateLimits) with Debian's /usr/bin/python3.
Settings come from the environment:

  DUO_IKEY, DUO_SKEY   integration keys
  DUO_HOST, DUO_PORT   host without port (signed as is) and the port
  DUO_CA               CA certificate file to trust
  DUO_USERNAME         a user with an activated device
  DUO_PUSHES           how many asynchronous pushes to start

duo_client backs off and retries a 429 answer (1, 2, 4 … 32 s) before it
raises; the retries are switched off here (_MAX_BACKOFF_WAIT_SECS = 0) so
the first 429 reaches the caller at once, exactly as the last one would
after the back-off. Each call's result, or the raised error with its HTTP
status and Duo answer, is printed as a JSON list on stdout.
"""

import json
import os

import duo_client
from duotest import connect


def main():
    env = os.environ
    client = connect(duo_client.Auth, timeout=20)
    client._MAX_BACKOFF_WAIT_SECS = 0
    out = []
    for _ in range(int(env["DUO_PUSHES"])):
        try:
            r = client.auth("push", username=env["DUO_USERNAME"], device="auto", async_txn=True)
            out.append({"ok": r})
        except RuntimeError as e:  # duo_client raises RuntimeError for FAIL answers
            out.append({"error": str(e), "status": getattr(e, "status", 0), "data": getattr(e, "data", None)})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
