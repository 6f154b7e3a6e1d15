#!/usr/bin/python3
"""One Auth API call for the SMS test (TestSMSKannel), with Debian's
python3-duo-client.

  duo_client_sms.py preauth          preauth DUO_USERNAME
  duo_client_sms.py sms              auth factor=sms device=auto
  duo_client_sms.py passcode CODE    auth factor=passcode

Settings come from the environment (DUO_IKEY, DUO_SKEY, DUO_HOST,
DUO_PORT, DUO_CA, DUO_USERNAME). The answer (or the RuntimeError text of a
FAIL answer) is printed as one JSON object on stdout.
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
        timeout=30,
    )
    # A 429 is the answer under test: no backoff and retries.
    client._MAX_BACKOFF_WAIT_SECS = 0
    user = env["DUO_USERNAME"]
    step = sys.argv[1]
    try:
        if step == "preauth":
            out = {"ok": client.preauth(username=user)}
        elif step == "sms":
            out = {"ok": client.auth(factor="sms", username=user, device="auto")}
        elif step == "passcode":
            out = {"ok": client.auth(factor="passcode", username=user, passcode=sys.argv[2])}
        else:
            sys.exit("unknown step " + step)
    except RuntimeError as e:  # duo_client raises RuntimeError for FAIL answers
        out = {"error": str(e)}
    json.dump(out, sys.stdout, sort_keys=True)


main()
