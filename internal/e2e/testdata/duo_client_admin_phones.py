#!/usr/bin/python3
"""Phones before activation and verification pushes through Assent's Admin
API with Debian's python3-duo-client (duo_client 4.x), unchanged.

Run by internal/e2e (TestPythonDuoClientAdminPhones) against the server, in
phases (the test's phone acts between them). Settings come from the
environment:

  DUO_HOST, DUO_PORT, DUO_CA          server (host signed without the port)
  DUO_ADMIN_IKEY, DUO_ADMIN_SKEY      an adminapi integration with every grant
  DUO_AUTH_IKEY, DUO_AUTH_SKEY        an authapi integration
  DUO_PHASE                           setup | push | result
  DUO_USER_ID, DUO_PHONE_ID           push and result: from setup
  DUO_PUSH_IDS                        result: comma-separated push_ids

duo_client 4.5.0 (Debian) predates send_verification_push and
get_verification_push_response; the script calls those two paths through
the client's own json_api_call, as the later client's methods do.

Each call's result (or the RuntimeError text) is printed in one JSON object.
"""

import json
import os
import sys

import duo_client
from duotest import call, connect


def main():
    env = os.environ
    adm = connect(duo_client.Admin, "DUO_ADMIN")
    phase = env["DUO_PHASE"]
    out = {}
    if phase == "setup":
        user = call(adm.add_user, "py-phone-user")
        out["add_user"] = user
        uid = user["ok"]["user_id"]
        phone = call(adm.add_phone, number="+15555550142", extension="9", type="Mobile",
                     platform="Google Android", predelay="1", postdelay="2")
        out["add_phone"] = phone
        pid = phone["ok"]["phone_id"]
        out["add_landline"] = call(adm.add_phone, number="+15555550143", type="Landline")
        out["update_phone"] = call(adm.update_phone, pid, name="py phone")
        out["activation_no_user"] = call(adm.create_activation_url, pid)
        out["add_user_phone"] = call(adm.add_user_phone, uid, pid)
        out["get_user_phones"] = call(adm.get_user_phones, uid)
        out["get_phones_by_number"] = call(adm.get_phones_by_number, "+15555550142", "9")
        out["get_phones"] = call(adm.get_phones)
        out["send_sms_activation"] = call(adm.send_sms_activation_to_phone, pid, install=1)
        out["send_sms_installation"] = call(adm.send_sms_installation, pid)
        out["create_activation_url"] = call(adm.create_activation_url, pid, valid_secs=3600, install=1)
    elif phase == "push":
        uid, pid = env["DUO_USER_ID"], env["DUO_PHONE_ID"]
        auth = connect(duo_client.Auth, "DUO_AUTH")
        out["auth_push"] = call(auth.auth, "push", username="py-phone-user", device=pid)
        out["get_phone_by_id"] = call(adm.get_phone_by_id, pid)
        out["get_user"] = call(adm.get_user_by_id, uid)
        path = "/admin/v1/users/" + uid + "/send_verification_push"
        out["verification_no_phone"] = call(adm.json_api_call, "POST", path, {})
        out["send_verification_push_1"] = call(adm.json_api_call, "POST", path, {"phone_id": pid})
        out["send_verification_push_2"] = call(adm.json_api_call, "POST", path, {"phone_id": pid})
        push_id = out["send_verification_push_1"]["ok"]["push_id"]
        out["waiting"] = call(adm.json_api_call, "GET", "/admin/v1/users/" + uid + "/verification_push_response",
                              {"push_id": push_id})
    elif phase == "result":
        uid = env["DUO_USER_ID"]
        for i, push_id in enumerate(env["DUO_PUSH_IDS"].split(",")):
            out["result_%d" % (i + 1)] = call(adm.json_api_call, "GET",
                                              "/admin/v1/users/" + uid + "/verification_push_response",
                                              {"push_id": push_id})
        out["delete_phone"] = call(adm.delete_phone, env["DUO_PHONE_ID"])
        out["get_deleted_phone"] = call(adm.get_phone_by_id, env["DUO_PHONE_ID"])
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
