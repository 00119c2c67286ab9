"""A SAML 2.0 identity provider for the single sign-on tests, built on pysaml2's
``saml2.server.Server``: a small WSGI app in a thread on 127.0.0.1, signing with a key and
self-signed certificate made for the run (xmlsec1 from Debian does the signing).

It answers an AuthnRequest sent with the HTTP-Redirect or HTTP-POST binding with its own
sign-in form, then posts the signed response to the service provider's ACS (HTTP-POST
binding), as Okta, Entra ID or Google do.
"""

import html
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, make_server

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from tests.sso_keys import key_and_certificate


@dataclass
class SamlPerson:
    username: str
    password: str
    email: str
    first_name: str = ""
    last_name: str = ""
    groups: list[str] = field(default_factory=list)


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


class SamlIdp:
    """``start()`` serves the IdP's metadata at ``metadata_url``; ``trust_sp(xml)`` loads a
    service provider's metadata (the portal's, read once its set-up exists)."""

    def __init__(self, workdir: Path, people: list[SamlPerson]):
        self.workdir = workdir
        self.people = {person.username: person for person in people}
        self.key_file, self.cert_file = key_and_certificate(workdir, "saml-idp")
        self.httpd = make_server("127.0.0.1", 0, self.app, handler_class=QuietHandler)
        self.base = f"http://127.0.0.1:{self.httpd.server_port}"
        self.metadata_url = f"{self.base}/metadata"
        self.sp_metadata: list[str] = []
        self.server = self._server()
        self.pending: dict[str, tuple[dict, str]] = {}
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _config(self) -> IdPConfig:
        metadata = []
        for n, xml in enumerate(self.sp_metadata):
            path = self.workdir / f"sp-{n}.xml"
            path.write_text(xml)
            metadata.append(str(path))
        config = IdPConfig()
        config.load(
            {
                "entityid": self.metadata_url,
                "service": {
                    "idp": {
                        "name": "Test SAML IdP",
                        "endpoints": {
                            "single_sign_on_service": [
                                (f"{self.base}/sso/redirect", BINDING_HTTP_REDIRECT),
                                (f"{self.base}/sso/post", BINDING_HTTP_POST),
                            ]
                        },
                        "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                        "policy": {
                            "default": {
                                "lifetime": {"minutes": 15},
                                "attribute_restrictions": None,
                                "name_form": NAME_FORMAT_URI,
                            }
                        },
                        "want_authn_requests_signed": False,
                    }
                },
                "key_file": str(self.key_file),
                "cert_file": str(self.cert_file),
                "xmlsec_binary": "/usr/bin/xmlsec1",
                "metadata": {"local": metadata} if metadata else {},
            }
        )
        return config

    def _server(self) -> Server:
        return Server(config=self._config())

    def start(self) -> "SamlIdp":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def trust_sp(self, sp_metadata_xml: str) -> None:
        if sp_metadata_xml not in self.sp_metadata:
            self.sp_metadata.append(sp_metadata_xml)
            self.server = self._server()

    # ------------------------------------------------------------ the WSGI app

    def app(self, environ, start_response):
        path = environ["PATH_INFO"]
        method = environ["REQUEST_METHOD"]
        if method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            params = parse_qs(environ["wsgi.input"].read(length).decode())
        else:
            params = parse_qs(environ.get("QUERY_STRING", ""))
        params = {key: values[0] for key, values in params.items()}
        try:
            if path == "/metadata":
                xml = create_metadata_string(None, config=self._config())
                return self._answer(start_response, "200 OK", xml, "text/xml")
            if path in ("/sso/redirect", "/sso/post"):
                binding = BINDING_HTTP_REDIRECT if path.endswith("redirect") else BINDING_HTTP_POST
                return self._sign_in_form(start_response, params, binding)
            if path == "/sso/login" and method == "POST":
                return self._sign_in(start_response, params)
        except Exception as exc:  # shown to the test, as an IdP's error page would be
            return self._answer(start_response, "400 Bad Request", f"IdP error: {exc!r}")
        return self._answer(start_response, "404 Not Found", "not found")

    def _answer(self, start_response, status, body, content_type="text/html; charset=utf-8"):
        data = body if isinstance(body, bytes) else body.encode()
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data)))])
        return [data]

    def _sign_in_form(self, start_response, params, binding, error=""):
        request = self.server.parse_authn_request(params["SAMLRequest"], binding)
        key = uuid.uuid4().hex
        self.pending[key] = (request, params.get("RelayState", ""))
        requester = html.escape(request.message.issuer.text)
        error_line = f'<p id="idp-error">{html.escape(error)}</p>' if error else ""
        page = "\n".join(
            [
                '<!doctype html><html lang="en"><head><meta charset="utf-8">',
                '<meta name="viewport" content="width=device-width, initial-scale=1">',
                "<title>SAML IdP sign-in</title></head><body>",
                f"<h1>Test SAML identity provider</h1><p>Signing in to: {requester}</p>",
                error_line,
                '<form method="post" action="/sso/login" id="idp-login">',
                f'<input type="hidden" name="key" value="{key}">',
                '<p><label for="id_username">Username</label>',
                '<input id="id_username" name="username"></p>',
                '<p><label for="id_password">Password</label>',
                '<input id="id_password" type="password" name="password"></p>',
                '<button type="submit" id="idp-submit">Sign in at the IdP</button>',
                "</form></body></html>",
            ]
        )
        return self._answer(start_response, "200 OK", page)

    def _sign_in(self, start_response, params):
        request, relay_state = self.pending.pop(params.get("key", ""), (None, ""))
        if request is None:
            return self._answer(start_response, "400 Bad Request", "unknown sign-in")
        person = self.people.get(params.get("username", ""))
        if person is None or person.password != params.get("password"):
            return self._answer(start_response, "403 Forbidden", "<p id='idp-error'>Wrong</p>")
        message = request.message
        args = self.server.response_args(message, [BINDING_HTTP_POST])
        identity = {
            "mail": [person.email],
            "givenName": [person.first_name],
            "sn": [person.last_name],
            "groups": person.groups,
        }
        response = self.server.create_authn_response(
            identity,
            userid=person.username,
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=person.email),
            authn={
                "class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
                "authn_auth": self.metadata_url,
            },
            sign_response=True,
            sign_assertion=True,
            # pysaml2 signs with RSA-SHA1 unless told; the portal refuses that algorithm.
            sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256,
            **args,
        )
        http_args = self.server.apply_binding(
            BINDING_HTTP_POST, str(response), args["destination"], relay_state, response=True
        )
        return self._answer(start_response, "200 OK", http_args["data"])
