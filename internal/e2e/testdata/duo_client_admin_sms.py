#!/usr/bin/python3
"""SMS to phones through Assent's Admin API with Debian's python3-duo-client
(duo_client 4.x), unchanged.

Run by internal/e2e (TestPythonDuoClientAdminSMS) against a server with an
SMS provider. Settings come from the environment:

  DUO_HOST, DUO_PORT, DUO_CA          server (host signed without the port)
  DUO_ADMIN_IKEY, DUO_ADMIN_SKEY      an adminapi integration with every grant

duo_client 4.5.0 (Debian) has no send_sms_passcodes method; the script calls
that path through the client's own json_api_call.

Each call's result (or the RuntimeError text) is printed in one JSON object.
"""

import json
import os

import duo_client
from duotest import call, connect


def main():
    env = os.environ
    adm = connect(duo_client.Admin, "DUO_ADMIN")
    out = {}
    uid = adm.add_user("py-sms-user")["user_id"]
    pid = adm.add_phone(number="+15555550155", type="Mobile", platform="Google Android")["phone_id"]
    adm.add_user_phone(uid, pid)
    out["phone_id"] = {"ok": pid}
    out["bad_template"] = call(adm.send_sms_activation_to_phone, pid, activation_msg="no link here")
    out["activation"] = call(adm.send_sms_activation_to_phone, pid, valid_secs=7200, install=1,
                             installation_msg="Get the app: <insturl>", activation_msg="Then open <acturl>")
    out["installation"] = call(adm.send_sms_installation, pid)
    out["passcodes_pending"] = call(adm.json_api_call, "POST", "/admin/v1/phones/" + pid + "/send_sms_passcodes", {})
    out["unknown_phone"] = call(adm.send_sms_installation, "DPNOSUCHPHONE0000000")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
