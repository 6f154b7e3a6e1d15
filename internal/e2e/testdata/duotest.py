"""What the duo_client_*.py scripts share: clients of Debian's
python3-duo-client (duo_client 4.x) set up from the environment, and calls
whose FAIL answers become data.

The scripts run as /usr/bin/python3 testdata/duo_client_X.py, so this file,
beside them, is importable.
"""

import os
import warnings


def call(fn, *args, **kwargs):
    """fn's answer as {"ok": ...}, or {"error": ...} with the text of the
    RuntimeError duo_client raises for a FAIL answer. duo_client's warnings
    (deprecated v1 calls) are silenced: stdout carries the JSON answer."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return {"ok": fn(*args, **kwargs)}
    except RuntimeError as e:
        return {"error": str(e)}


def connect(cls, prefix="DUO", **kwargs):
    """A duo_client cls (Auth, Admin) with the keys PREFIX_IKEY and
    PREFIX_SKEY, and DUO_HOST (without port, signed as is), DUO_PORT and
    DUO_CA (the CA certificate file to trust) from the environment."""
    env = os.environ
    return cls(ikey=env[prefix + "_IKEY"], skey=env[prefix + "_SKEY"], host=env["DUO_HOST"],
               port=int(env["DUO_PORT"]), ca_certs=env["DUO_CA"], **kwargs)
