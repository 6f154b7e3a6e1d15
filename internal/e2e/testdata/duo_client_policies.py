#!/usr/bin/python3
"""Policies through Assent's Admin and Auth APIs with Debian's
python3-duo-client (duo_client 4.x), unchanged.

Run by internal/e2e (TestPythonPolicies). Settings come from the
environment:

  DUO_HOST, DUO_PORT, DUO_CA          server (host signed without the port)
  DUO_ADMIN_IKEY, DUO_ADMIN_SKEY      an adminapi integration with every grant
  DUO_AUTH_IKEY, DUO_AUTH_SKEY        an authapi integration

Each call's result (or the RuntimeError text) is printed in one JSON object.
"""

import json
import os

import duo_client
from duotest import call, connect


def main():
    env = os.environ
    adm = connect(duo_client.Admin, "DUO_ADMIN")
    auth = connect(duo_client.Auth, "DUO_AUTH")
    ikey = env["DUO_AUTH_IKEY"]
    out = {}

    group = call(adm.create_group, "py-staff")
    out["create_group"] = group
    gid = group["ok"]["group_id"]
    member = call(adm.add_user, "py-member")["ok"]["user_id"]
    outsider = call(adm.add_user, "py-outsider")["ok"]["user_id"]
    out["add_user_group"] = call(adm.add_user_group, member, gid)
    codes = {}
    for name, uid in (("member", member), ("outsider", outsider)):
        codes[name] = call(adm.add_user_bypass_codes, uid, count=3, remaining_uses=1)["ok"]

    # Authorized networks: no second factor from 192.0.2.0/24.
    out["update_integration"] = call(adm.update_integration, ikey, ip_whitelist=["192.0.2.0/24", "198.51.100.7"],
                                     ip_whitelist_enroll_policy="enforce", trusted_device_days=7,
                                     self_service_allowed=True)
    out["get_integration"] = call(adm.get_integration, ikey)
    out["update_bad_whitelist"] = call(adm.update_integration, ikey, ip_whitelist="192.0.2.0/33")
    out["preauth_inside"] = call(auth.preauth, username="py-member", ipaddr="192.0.2.10")
    out["auth_inside"] = call(auth.auth, "passcode", username="py-member", passcode="000000000", ipaddr="192.0.2.10")
    out["preauth_single"] = call(auth.preauth, username="py-member", ipaddr="198.51.100.7")
    out["preauth_outside"] = call(auth.preauth, username="py-member", ipaddr="198.51.100.8")
    out["preauth_no_ip"] = call(auth.preauth, username="py-member")
    # A denied network (set by the test before the script ran).
    out["preauth_denied"] = call(auth.preauth, username="py-member", ipaddr="203.0.113.5")
    out["auth_denied"] = call(auth.auth, "passcode", username="py-member", passcode=codes["member"][0], ipaddr="203.0.113.5")

    # Remembered devices: a second factor gives a trusted_device_token,
    # which lets the same user in on the next preauth.
    first = call(auth.auth, "passcode", username="py-member", passcode=codes["member"][1], ipaddr="198.51.100.8")
    out["auth_for_token"] = first
    token = first.get("ok", {}).get("trusted_device_token", "")
    out["preauth_token"] = call(auth.preauth, username="py-member", ipaddr="198.51.100.8", trusted_device_token=token)
    out["preauth_token_other_user"] = call(auth.preauth, username="py-outsider", ipaddr="198.51.100.8",
                                           trusted_device_token=token)
    # The same with async_txn: auth_status carries the token once allowed.
    started = call(auth.auth, "passcode", username="py-member", passcode=codes["member"][2], ipaddr="198.51.100.8",
                   async_txn=True)
    out["auth_async"] = started
    status = call(auth.auth_status, started.get("ok", {}).get("txid", ""))
    out["auth_status_for_token"] = status
    token = status.get("ok", {}).get("trusted_device_token", "")
    out["preauth_async_token"] = call(auth.preauth, username="py-member", ipaddr="198.51.100.8",
                                      trusted_device_token=token)

    # groups_allowed: only py-staff may use the integration.
    out["update_groups"] = call(adm.update_integration, ikey, groups_allowed=gid)
    out["preauth_outsider"] = call(auth.preauth, username="py-outsider", ipaddr="198.51.100.8")
    out["auth_outsider"] = call(auth.auth, "passcode", username="py-outsider", passcode=codes["outsider"][0],
                                ipaddr="198.51.100.8")
    out["preauth_member"] = call(auth.preauth, username="py-member", ipaddr="198.51.100.8")
    out["update_unknown_group"] = call(adm.update_integration, ikey, groups_allowed="DG000000000000000009")
    out["create_integration"] = call(adm.create_integration, "py created", "authapi", ip_whitelist="10.0.0.0/8",
                                     trusted_device_days=3, groups_allowed=gid, enroll_policy="deny")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
