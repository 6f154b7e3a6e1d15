#!/usr/bin/python3
"""One Auth API call for the telephony tests (TestSMSKannel,
TestPhoneCallSIPp, the binary's phone call), with Debian's
python3-duo-client.

  duo_client_telephony.py preauth          preauth DUO_USERNAME
  duo_client_telephony.py sms              auth factor=sms device=auto
  duo_client_telephony.py passcode CODE    auth factor=passcode
  duo_client_telephony.py phone            auth factor=phone device=auto (waits)
  duo_client_telephony.py async            auth factor=phone async, then
                                           auth_status until the answer is
                                           not "waiting"

Settings come from the environment (DUO_IKEY, DUO_SKEY, DUO_HOST,
DUO_PORT, DUO_CA, DUO_USERNAME). The answer (for async, the list of
auth_status answers; or the RuntimeError text of a FAIL answer) is printed
as one JSON object on stdout.
"""

import json
import os
import sys

import duo_client
from duotest import connect


def phone_async(client, user):
    txid = client.auth(factor="phone", username=user, device="auto", async_txn=True)["txid"]
    statuses = []
    # duo_unix polls at most 20 times.
    for _ in range(20):
        # duo_client maps result to waiting and success.
        st = client.auth_status(txid)
        statuses.append(st)
        if not st["waiting"]:
            break
    return statuses


STEPS = {
    "preauth": lambda client, user: client.preauth(username=user),
    "sms": lambda client, user: client.auth(factor="sms", username=user, device="auto"),
    "passcode": lambda client, user, code: client.auth(factor="passcode", username=user, passcode=code),
    "phone": lambda client, user: client.auth(factor="phone", username=user, device="auto"),
    "async": phone_async,
}


def main():
    env = os.environ
    client = connect(duo_client.Auth, timeout=90)  # a call rings, then waits for the key
    # A 429 is the answer under test: no backoff and retries.
    client._MAX_BACKOFF_WAIT_SECS = 0
    step = STEPS.get(sys.argv[1])
    if step is None:
        sys.exit("unknown step " + sys.argv[1])
    try:
        out = {"ok": step(client, env["DUO_USERNAME"], *sys.argv[2:])}
    except RuntimeError as e:  # duo_client raises RuntimeError for FAIL answers
        out = {"error": str(e)}
    json.dump(out, sys.stdout, sort_keys=True)


main()
