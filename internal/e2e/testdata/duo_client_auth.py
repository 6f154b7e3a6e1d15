#!/usr/bin/python3
"""Drive an Assent server with Debian's python3-duo-client (duo_client 4.x).

Run by internal/e2e (TestPythonDuoClient) with Debian's /usr/bin/python3.
Settings come from the environment:

  DUO_IKEY, DUO_SKEY   integration keys
  DUO_HOST, DUO_PORT   host without port (signed as is) and the port
  DUO_CA               CA certificate file to trust
  DUO_USERNAME         a user with bypass codes
  DUO_PASSCODES        comma-separated single-use bypass codes, one per variant
  DUO_UNKNOWN_USER     a username the server does not know
  DUO_NEW_USER         a username to enroll with two bypass codes

Each signing variant (the client's default v2 HMAC-SHA1, v2 HMAC-SHA512 and
v4 with a JSON body) calls check, preauth and a passcode auth; the default
variant also calls ping and logo, reuses its code, preauths the unknown
user, and enrolls the new user asking for bypass codes, then logs in with
the first of them. Results (or the RuntimeError text for failures) are printed as one
JSON object on stdout.
"""

import hashlib
import json
import os
import sys

import duo_client
from duotest import call, connect


def main():
    env = os.environ
    username = env["DUO_USERNAME"]
    passcodes = env["DUO_PASSCODES"].split(",")
    variants = [
        ("v2-sha1", {}),  # the defaults: sig_version=2, digestmod=sha1
        ("v2-sha512", {"sig_version": 2, "digestmod": hashlib.sha512}),
        ("v4-json", {"sig_version": 4, "digestmod": hashlib.sha512}),
    ]
    if len(passcodes) < len(variants):
        sys.exit("DUO_PASSCODES needs %d codes" % len(variants))
    out = {"duo_client_version": getattr(duo_client, "__version__", "")}
    for (name, kwargs), code in zip(variants, passcodes):
        client = connect(duo_client.Auth, timeout=20, **kwargs)
        r = {
            "check": call(client.check),
            "preauth": call(client.preauth, username=username),
            "auth": call(client.auth, factor="passcode", username=username, passcode=code),
        }
        if name == "v2-sha1":
            r["ping"] = call(client.ping)
            logo = call(client.logo)
            if "ok" in logo:
                data = logo["ok"]
                logo = {"ok": {"png": data[:8] == b"\x89PNG\r\n\x1a\n", "bytes": len(data)}}
            r["logo"] = logo
            r["auth_again"] = call(client.auth, factor="passcode", username=username, passcode=code)
            r["preauth_unknown"] = call(client.preauth, username=env["DUO_UNKNOWN_USER"])
            enrolled = call(client.enroll, username=env["DUO_NEW_USER"], bypass_codes=2)
            r["enroll_bypass_codes"] = enrolled
            codes = enrolled.get("ok", {}).get("bypass_codes") or [""]
            r["enroll_bypass_codes_auth"] = call(
                client.auth, factor="passcode", username=env["DUO_NEW_USER"], passcode=codes[0])
        out[name] = r
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
