#!/usr/bin/python3
"""Drive Assent's Admin API with Debian's python3-duo-client (duo_client 4.x).

Run by internal/e2e (TestPythonDuoClientAdmin) with Debian's /usr/bin/python3,
unchanged client code. Settings come from the environment:

  DUO_HOST, DUO_PORT, DUO_CA        server (host signed without the port)
  DUO_ADMIN_IKEY, DUO_ADMIN_SKEY    an adminapi integration with every grant
  DUO_AUTH_IKEY, DUO_AUTH_SKEY      an authapi integration
  DUO_NOGRANT_IKEY, DUO_NOGRANT_SKEY  an adminapi integration without grants
  DUO_PHONE_USER_ID                 a user with an activated device
  DUO_LOG_MINTIME_MS                start of the seeded auth-log window (ms)

Each call's result (or the RuntimeError text) is printed as one JSON object.
"""

import hashlib
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
    out = {}

    users = call(adm.get_users)  # pages with limit=100 while next_offset exists
    if "ok" in users:
        out["users_count"] = len(users["ok"])
        out["users_distinct"] = len({u["user_id"] for u in users["ok"]})
    else:
        out["users"] = users
    out["users_page"] = call(adm.get_users, limit=300, offset=0)
    if "ok" in out["users_page"]:
        out["users_page"] = {"ok": len(out["users_page"]["ok"])}
    out["by_name"] = call(adm.get_users_by_name, "seed-0007")

    # The same client signing with canonicalization 4: POST parameters as a
    # JSON body (the shape upstream duo_client 5.x sends), GET in the query.
    env4 = dict(ikey=env["DUO_ADMIN_IKEY"], skey=env["DUO_ADMIN_SKEY"], host=env["DUO_HOST"],
                port=int(env["DUO_PORT"]), ca_certs=env["DUO_CA"], sig_version=4, digestmod=hashlib.sha512)
    adm4 = duo_client.Admin(**env4)
    out["v4_add_user"] = call(adm4.add_user, "py-json-user", realname="Py JSON", email="json@example.com")
    out["v4_by_name"] = call(adm4.get_users_by_name, "py-json-user")

    added = call(adm.add_user, "py-admin-user", realname="Py Admin", email="py@example.com")
    out["add_user"] = added
    if "ok" in added:
        uid = added["ok"]["user_id"]
        out["update_user"] = call(adm.update_user, uid, notes="from python", status="active", realname="Py A.")
        out["get_user_by_id"] = call(adm.get_user_by_id, uid)
        # A group for the user: its authentication-log rows name it.
        grp = call(adm.create_group, "py-group")
        if "ok" in grp:
            out["group_id"] = grp["ok"]["group_id"]
            out["add_user_group"] = call(adm.add_user_group, uid, out["group_id"])
        else:
            out["add_user_group"] = grp
        codes = call(adm.add_user_bypass_codes, uid, count=2, remaining_uses=1)
        out["bypass_codes"] = codes
        if "ok" in codes:
            out["login_with_code"] = call(auth.auth, "passcode", username="py-admin-user", passcode=codes["ok"][0])
            out["login_again"] = call(auth.auth, "passcode", username="py-admin-user", passcode=codes["ok"][0])
        # The global bypass-code list (paged by the client's generator):
        # the user's codes as the per-user list shows them, never a code.
        listed = call(adm.get_bypass_codes)
        mine = call(adm.get_user_bypass_codes, uid)
        out["all_bypass_codes"] = listed
        if "ok" in listed and "ok" in mine:
            ids = sorted(c["bypass_code_id"] for c in listed["ok"] if c["user"]["user_id"] == uid)
            out["all_bypass_ids"] = {"ok": ids}
            out["user_bypass_ids"] = {"ok": sorted(c["bypass_code_id"] for c in mine["ok"])}
            out["bypass_shown"] = any(code in json.dumps(listed["ok"]) for code in codes.get("ok", []))
            if ids:
                out["delete_bypass_code"] = call(adm.delete_bypass_code_by_id, ids[0])
                after = call(adm.get_bypass_codes, limit=10, offset=0)
                out["bypass_ids_after_delete"] = {"ok": [c["bypass_code_id"] for c in after["ok"]]} if "ok" in after else after
        out["enroll_user"] = call(adm.enroll_user, "py-enrollee", "enrollee@example.com")
        out["delete_user"] = call(adm.delete_user, uid)
        out["get_deleted"] = call(adm.get_user_by_id, uid)
    out["phones"] = call(adm.get_user_phones, env["DUO_PHONE_USER_ID"])

    # Rows become readable once a reader's seal has passed their second
    # (stamps are whole seconds): let the login's second end.
    time.sleep(1.1)

    # v2 log: every page, oldest first as exporters read it, following
    # metadata.next_offset (rows committed meanwhile come on later pages).
    mintime = int(env["DUO_LOG_MINTIME_MS"])
    maxtime = int(time.time() * 1000) + 5000
    rows, pages, next_offset = [], 0, None
    while pages < 50:
        kw = {"api_version": 2, "mintime": mintime, "maxtime": maxtime, "limit": "1000", "sort": "ts:asc"}
        if next_offset:
            kw["next_offset"] = next_offset
        r = call(adm.get_authentication_log, **kw)
        if "error" in r:
            out["authlog_v2_error"] = r["error"]
            break
        pages += 1
        rows.extend(r["ok"]["authlogs"])
        next_offset = r["ok"]["metadata"].get("next_offset")
        out["authlog_v2_total"] = r["ok"]["metadata"]["total_objects"]
        if not next_offset:
            break
    out["authlog_v2_rows"] = len(rows)
    out["authlog_v2_distinct"] = len({(l["txid"], l["timestamp"], l["user"]["key"], l["factor"]) for l in rows})
    out["authlog_v2_pages"] = pages
    out["authlog_v2_sample"] = [l for l in rows if l["factor"] == "bypass_code"][:1]
    out["authlog_v2_groups"] = sorted({",".join(l["user"]["groups"]) for l in rows if l["user"]["name"] == "py-admin-user"})
    out["authlog_v2_no_groups"] = sum(1 for l in rows if l["user"]["name"] != "py-admin-user" and l["user"]["groups"] != [])
    if "group_id" in out:
        by_group = call(adm.get_authentication_log, api_version=2, mintime=mintime, maxtime=maxtime,
                        groups=[out["group_id"]], limit="1000")
        out["authlog_v2_by_group"] = {"ok": sorted({l["user"]["name"] for l in by_group["ok"]["authlogs"]})} if "ok" in by_group else by_group
    out["authlog_v2_filtered"] = call(adm.get_authentication_log, api_version=2, mintime=mintime, maxtime=maxtime,
                                      results=["denied"], limit="1000")
    if "ok" in out["authlog_v2_filtered"]:
        out["authlog_v2_filtered"] = {"ok": sorted({l["result"] for l in out["authlog_v2_filtered"]["ok"]["authlogs"]})}
    v1 = call(adm.get_authentication_log)
    out["authlog_v1_count"] = len(v1["ok"]) if "ok" in v1 else v1
    out["authlog_v1_first"] = v1["ok"][0] if "ok" in v1 and v1["ok"] else None
    # Log rows are readable once the log clock has passed their second.
    time.sleep(1.1)
    out["admin_log"] = call(adm.get_administrator_log)
    # v2 activity log: pages of 7, oldest first, next_offset sent back as
    # duo_log_sync does (a one-element list).
    acts, apages, next_offset = [], 0, None
    while apages < 50:
        kw = {"mintime": mintime - 3600 * 1000, "maxtime": int(time.time() * 1000), "limit": 7, "sort": "ts:asc"}
        if next_offset:
            kw["next_offset"] = [next_offset]
        r = call(adm.get_activity_logs, **kw)
        if "error" in r:
            out["activity_error"] = r["error"]
            break
        apages += 1
        acts.extend(r["ok"]["items"])
        out["activity_total"] = r["ok"]["metadata"]["total_objects"]
        next_offset = r["ok"]["metadata"]["next_offset"]
        if not next_offset:
            break
    out["activity_rows"] = len(acts)
    out["activity_distinct"] = len({a["activity_id"] for a in acts})
    out["activity_pages"] = apages
    out["activity_actions"] = [a["action"] for a in acts]
    out["activity_sample"] = [a for a in acts if a["action"] == "user_create" and a["target"]["name"] == "py-admin-user"][:1]
    out["info_summary"] = call(adm.get_info_summary)
    out["integrations"] = call(adm.get_integrations)
    out["telephony"] = call(adm.get_telephony_log)
    out["trust_monitor"] = call(lambda: list(adm.get_trust_monitor_events_iterator(mintime=mintime, maxtime=maxtime)))

    out["auth_keys_on_admin"] = call(connect(duo_client.Admin, "DUO_AUTH").get_users)
    out["no_grant"] = call(connect(duo_client.Admin, "DUO_NOGRANT").get_users)
    out["no_grant_log"] = call(connect(duo_client.Admin, "DUO_NOGRANT").get_administrator_log)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
