#!/usr/bin/python3
"""Username aliases and username normalization with Debian's
python3-duo-client (duo_client 4.x), unchanged.

Run by internal/e2e (TestUsernamesPython). Settings come from the
environment:

  DUO_HOST, DUO_PORT, DUO_CA          server (host signed without the port)
  DUO_ADMIN_IKEY, DUO_ADMIN_SKEY      an adminapi integration with every grant
  DUO_AUTH_IKEY, DUO_AUTH_SKEY        an authapi integration
  DUO_HOTP_SECRET                     a HOTP token's secret (hex)
  DUO_HOTP_CODES                      oathtool's HOTP codes for counters 0..7

The Admin client creates py-alice with alias1 (add_user), adds alias2
(update_user with aliases), gives her a HOTP token, and sets the Auth API
integration's username_normalization_policy to simple; the Auth client then
logs in as EXAMPLE\\py-alice, py-alice@example.com, PY-ALICE, py.asmith and
EXAMPLE\\ASmith2@example.org (alias2 after stripping), one oathtool code each. With the policy back at none,
EXAMPLE\\py-alice is an unknown user. Each call's result (or the
RuntimeError text) is printed in one JSON object.
"""

import json
import os

import duo_client
from duotest import call, connect


NAMES = ["EXAMPLE\\py-alice", "py-alice@example.com", "PY-ALICE", "py.asmith", "EXAMPLE\\ASmith2@example.org"]


def main():
    env = os.environ
    adm = connect(duo_client.Admin, "DUO_ADMIN")
    auth = connect(duo_client.Auth, "DUO_AUTH")
    hotp = env["DUO_HOTP_CODES"].split(",")
    auth_ikey = env["DUO_AUTH_IKEY"]
    out = {}

    user = call(adm.add_user, "py-alice", alias1="py.asmith")
    out["add_user"] = user
    uid = user["ok"]["user_id"]
    out["update_user"] = call(adm.update_user, uid, aliases="alias2=asmith2")
    out["get_user"] = call(adm.get_user_by_id, uid)
    out["get_users_by_alias"] = call(adm.get_users_by_name, "PY.ASMITH")
    out["add_user_taken_alias"] = call(adm.add_user, "py-bob", alias1="PY-ALICE")
    tok = call(adm.add_hotp6_token, "PY-U6", env["DUO_HOTP_SECRET"], counter=0)
    out["add_hotp6_token"] = tok
    out["add_user_token"] = call(adm.add_user_token, uid, tok["ok"]["token_id"])

    out["get_integration_before"] = call(adm.get_integration, auth_ikey)
    out["update_integration"] = call(adm.update_integration, auth_ikey, username_normalization_policy="simple")
    out["logins"] = [
        call(auth.auth, "passcode", username=name, passcode=hotp[i]) for i, name in enumerate(NAMES)
    ]
    out["preauth_simple"] = call(auth.preauth, username="EXAMPLE\\py-alice")
    out["update_integration_none"] = call(adm.update_integration, auth_ikey, username_normalization_policy="none")
    out["preauth_none"] = call(auth.preauth, username="EXAMPLE\\py-alice")
    out["preauth_none_alias"] = call(auth.preauth, username="py.asmith")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
