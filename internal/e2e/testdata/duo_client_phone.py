#!/usr/bin/python3
"""Auth API calls for the phone-callback test (TestPhoneCallSIPp), with
Debian's python3-duo-client.

  duo_client_phone.py preauth     preauth DUO_USERNAME
  duo_client_phone.py phone       auth factor=phone device=auto (waits)
  duo_client_phone.py async       auth factor=phone async, then auth_status
                                  until the answer is not "waiting"

Settings come from the environment (DUO_IKEY, DUO_SKEY, DUO_HOST,
DUO_PORT, DUO_CA, DUO_USERNAME). The answer (for async, the list of
auth_status answers; or the RuntimeError text of a FAIL answer) is printed
as one JSON object on stdout.
"""

import json
import os
import sys

import duo_client


def main():
    env = os.environ
    client = duo_client.Auth(
        ikey=env["DUO_IKEY"],
        skey=env["DUO_SKEY"],
        host=env["DUO_HOST"],
        port=int(env["DUO_PORT"]),
        ca_certs=env["DUO_CA"],
        timeout=90,
    )
    client._MAX_BACKOFF_WAIT_SECS = 0
    user = env["DUO_USERNAME"]
    step = sys.argv[1]
    try:
        if step == "preauth":
            out = {"ok": client.preauth(username=user)}
        elif step == "phone":
            out = {"ok": client.auth(factor="phone", username=user, device="auto")}
        elif step == "async":
            txid = client.auth(factor="phone", username=user, device="auto", async_txn=True)["txid"]
            statuses = []
            # duo_unix polls at most 20 times.
            for _ in range(20):
                # duo_client maps result to waiting and success.
                st = client.auth_status(txid)
                statuses.append(st)
                if not st["waiting"]:
                    break
            out = {"ok": statuses}
        else:
            sys.exit("unknown step " + step)
    except RuntimeError as e:  # duo_client raises RuntimeError for FAIL answers
        out = {"error": str(e)}
    json.dump(out, sys.stdout, sort_keys=True)


main()
