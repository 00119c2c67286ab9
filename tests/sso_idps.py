"""The identity providers the single sign-on tests sign in at, started by the tests on
127.0.0.1: an OpenID Connect provider (django-oauth-toolkit, in a process of its own,
``tests/oidc_idp``) and a SAML IdP (pysaml2, in a thread, ``tests/saml_idp.py``)."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.sso_keys import rsa_key_pem

ROOT = Path(__file__).resolve().parent.parent
IDP_PASSWORD = "idp-Password-1"


@dataclass
class OidcIdp:
    base: str
    process: subprocess.Popen

    @property
    def issuer(self) -> str:
        return f"{self.base}/o"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def oidc_idp_start(workdir: Path, *, people: list[dict], clients: list[dict]) -> OidcIdp:
    """Start the OpenID Connect provider with these people (username, email, names,
    groups; all with ``IDP_PASSWORD``) and client applications (client_id,
    client_secret, redirect_uris)."""
    key_file = workdir / "oidc-key.pem"
    key_file.write_bytes(rsa_key_pem())
    spec = {
        "database": str(workdir / "oidc-idp.sqlite3"),
        "key_file": str(key_file),
        "people": [{"password": IDP_PASSWORD, **person} for person in people],
        "clients": clients,
    }
    spec_file = workdir / "oidc-spec.json"
    spec_file.write_text(json.dumps(spec))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    log = open(workdir / "oidc-idp.log", "w")  # noqa: SIM115  (the process's, closed with it)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.oidc_idp.serve", str(spec_file)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    line = process.stdout.readline()
    if not line.startswith("READY "):
        process.kill()
        raise RuntimeError(
            f"the OpenID Connect IdP did not start: {line!r}\n"
            + (workdir / "oidc-idp.log").read_text()
        )
    return OidcIdp(base=f"http://127.0.0.1:{int(line.split()[1])}", process=process)
