#!/usr/bin/python3
"""Hardware tokens, groups and WebAuthn credentials through Assent's Admin
API with Debian's python3-duo-client (duo_client 4.x), unchanged.

Run by internal/e2e (TestAdminTokensGroupsBinary) against the real
`assent serve`. Settings come from the environment:

  DUO_HOST, DUO_PORT, DUO_CA          server (host signed without the port)
  DUO_ADMIN_IKEY, DUO_ADMIN_SKEY      an adminapi integration with every grant
  DUO_AUTH_IKEY, DUO_AUTH_SKEY        an authapi integration
  DUO_HOTP_SECRET, DUO_TOTP_SECRET    the tokens' secrets (hex)
  DUO_HOTP_CODES                      oathtool's HOTP codes for counters 0..7
  DUO_TOTP_CODE                       oathtool's current TOTP code

Each call's result (or the RuntimeError text) is printed in one JSON object.
"""

import json
import os
import sys
import time

import duo_client
from duotest import call, connect


def main():
    env = os.environ
    adm = connect(duo_client.Admin, "DUO_ADMIN")
    auth = connect(duo_client.Auth, "DUO_AUTH")
    hotp = env["DUO_HOTP_CODES"].split(",")
    out = {}

    def login(code):
        return call(auth.auth, "passcode", username="py-token-user", passcode=code)

    user = call(adm.add_user, "py-token-user")
    out["add_user"] = user
    uid = user["ok"]["user_id"]
    h6 = call(adm.add_hotp6_token, "PY-H6", env["DUO_HOTP_SECRET"], counter=0)
    t6 = call(adm.add_totp6_token, "PY-T6", env["DUO_TOTP_SECRET"], totp_step=30)
    out["add_hotp6_token"], out["add_totp6_token"] = h6, t6
    out["add_duplicate"] = call(adm.add_hotp6_token, "PY-H6", env["DUO_HOTP_SECRET"])
    h6id, t6id = h6["ok"]["token_id"], t6["ok"]["token_id"]

    out["login_unassigned"] = login(hotp[0])
    out["add_user_token_h6"] = call(adm.add_user_token, uid, h6id)
    out["add_user_token_t6"] = call(adm.add_user_token, uid, t6id)
    out["get_user_tokens"] = call(adm.get_user_tokens, uid)
    out["get_user"] = call(adm.get_user_by_id, uid)
    out["login_hotp"] = login(hotp[1])
    out["login_hotp_again"] = login(hotp[1])
    out["resync_bad"] = call(adm.resync_hotp_token, h6id, hotp[4], hotp[5], hotp[3])
    out["resync"] = call(adm.resync_hotp_token, h6id, hotp[4], hotp[5], hotp[6])
    out["login_after_resync"] = login(hotp[7])
    out["login_totp"] = login(env["DUO_TOTP_CODE"])
    out["get_tokens"] = call(adm.get_tokens)
    out["get_token_by_id"] = call(adm.get_token_by_id, h6id)
    out["get_tokens_by_serial"] = call(adm.get_tokens_by_serial, "h6", "PY-H6")
    out["delete_user_token"] = call(adm.delete_user_token, uid, t6id)
    out["get_user_tokens_after"] = call(adm.get_user_tokens, uid)
    out["delete_token"] = call(adm.delete_token, h6id)
    out["get_deleted_token"] = call(adm.get_token_by_id, h6id)
    yk = call(adm.add_yubikey_token, "vvccccfiluij", "010203040506", "000102030405060708090a0b0c0d0e0f")
    out["add_yubikey_token"] = yk
    if "ok" in yk:
        out["delete_yubikey_token"] = call(adm.delete_token, yk["ok"]["token_id"])

    out["webauthn_user"] = call(adm.get_user_webauthncredentials, uid)
    out["webauthn_all"] = call(adm.get_webauthncredentials)

    group = call(adm.create_group, "py-group", desc="from python", status="active")
    out["create_group"] = group
    gid = group["ok"]["group_id"]
    out["add_user_group"] = call(adm.add_user_group, uid, gid)
    out["get_group_users"] = call(adm.get_group_users, gid)
    out["get_group_v2"] = call(adm.get_group, gid, api_version=2)
    out["get_group_v1"] = call(adm.get_group, gid)
    out["get_user_groups"] = call(adm.get_user_groups, uid)
    out["get_groups"] = call(adm.get_groups)
    out["modify_group"] = call(adm.modify_group, gid, status="disabled")
    out["preauth_disabled_group"] = call(auth.preauth, username="py-token-user")
    out["delete_user_group"] = call(adm.delete_user_group, uid, gid)
    out["preauth_out_of_group"] = call(auth.preauth, username="py-token-user")
    out["delete_group"] = call(adm.delete_group, gid)
    out["get_deleted_group"] = call(adm.get_group, gid, api_version=2)

    # Log rows are readable once the log clock has passed their second.
    time.sleep(1.1)
    out["admin_log"] = call(adm.get_administrator_log)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
