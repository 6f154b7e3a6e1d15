#!/usr/bin/python3
"""Try passcodes in order with Debian's python3-duo-client (duo_client 4.x).

Run by internal/e2e (TestTokenPasscodes) with Debian's /usr/bin/python3.
Settings come from the environment: DUO_IKEY, DUO_SKEY, DUO_HOST (without
port, signed as is), DUO_PORT, DUO_CA, DUO_USERNAME. The passcodes are the
arguments; each is sent as auth(factor="passcode"). The answers (or the
RuntimeError text of a FAIL answer) are printed as a JSON list, after the
preauth answer.
"""

import json
import os
import sys

import duo_client
from duotest import call, connect


def main():
    env = os.environ
    client = connect(duo_client.Auth, timeout=20)
    user = env["DUO_USERNAME"]
    out = [call(client.preauth, username=user)]
    for code in sys.argv[1:]:
        out.append(call(client.auth, factor="passcode", username=user, passcode=code))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
