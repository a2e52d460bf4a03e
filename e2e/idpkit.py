"""A real identity provider for the end-to-end suite: node `oidc-provider` (e2e/idp/provider.mjs,
pinned in e2e/idp/package.json) as a harness process, a user agent that logs a user in at it over
plain HTTP (authorization code flow with PKCE through its login and consent interactions) and ends
the session (RP-initiated logout), and a SET transmitter (e2e/idp/transmitter.mjs, node `jose`)."""

from __future__ import annotations

import base64
import hashlib
import html
import http.cookiejar
import json
import re
import secrets
import shutil
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import harness

IDP_DIR = harness.ROOT / "e2e/idp"
INSTALL_HINT = "install it with scripts/setup.sh (npm ci in e2e/idp)"


def node_bin() -> str:
    found = shutil.which("node")
    if not found:
        raise FileNotFoundError("node is not installed: run scripts/setup.sh (make setup)")
    return found


def _require_modules() -> None:
    for package in ("oidc-provider", "jose"):
        harness.require_file(IDP_DIR / f"node_modules/{package}/package.json", INSTALL_HINT)


def b64url_json(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def claims_of(jwt: str) -> dict:
    """The payload of a compact JWS, unverified (the test reads what the provider issued)."""
    return b64url_json(jwt.split(".")[1])


def header_of(jwt: str) -> dict:
    return b64url_json(jwt.split(".")[0])


def _get_json(port: int, path: str):
    answer = harness.http_request(port, "GET", path)
    assert answer.status == 200, answer
    return answer.json()


def _post_json(port: int, path: str, body: dict):
    answer = harness.http_request(port, "POST", path, {"content-type": "application/json"}, body)
    assert answer.status == 200, answer
    return answer.json()


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uri: str
    backchannel_logout_uri: str

    def registration(self) -> dict:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uris": [self.redirect_uri],
            "post_logout_redirect_uris": [self.redirect_uri + "/logged-out"],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_post",
            "backchannel_logout_uri": self.backchannel_logout_uri,
            "backchannel_logout_session_required": True,
        }


class OidcProvider:
    """e2e/idp/provider.mjs on a free port; issuer http://127.0.0.1:PORT."""

    def __init__(self, workdir: Path, clients: list[Client], resource: str, access_token_ttl: int = 600):
        _require_modules()
        self.port = harness.free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.resource = resource
        self.clients = {c.client_id: c for c in clients}
        config_file = workdir / f"oidc-provider-{self.port}.json"
        config_file.write_text(json.dumps({
            "port": self.port,
            "resource": resource,
            "access_token_ttl": access_token_ttl,
            "clients": [c.registration() for c in clients],
        }))
        self.proc = harness.Process(f"oidc-provider:{self.port}", [node_bin(), str(IDP_DIR / "provider.mjs"),
                                    str(config_file)], workdir / f"oidc-provider-{self.port}.log", cwd=IDP_DIR)

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def start(self) -> OidcProvider:
        self.proc.start()
        harness.wait_until(lambda: harness.http_request(self.port, "GET", "/.well-known/openid-configuration",
                                                        timeout=2).status == 200,
                           f"oidc-provider on {self.port}", proc=self.proc)
        self.discovery = _get_json(self.port, "/.well-known/openid-configuration")
        return self

    def stop(self) -> None:
        self.proc.stop()

    def deliveries(self) -> list[dict]:
        """The back-channel logouts the provider sent so far (url, logout_token, status, body)."""
        return _get_json(self.port, "/__test__/deliveries")

    def sign(self, claims: dict, key: str = "provider", typ: str = "logout+jwt") -> str:
        """A JWS over `claims` with the provider's signing key ("provider") or an unpublished key
        with the same kid ("forged")."""
        return _post_json(self.port, "/__test__/sign", {"claims": claims, "key": key, "typ": typ})["jwt"]

    def browser(self) -> UserAgent:
        return UserAgent(self)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


@dataclass
class Login:
    access_token: str
    id_token: str
    client_id: str

    @property
    def claims(self) -> dict:
        return claims_of(self.access_token)


class UserAgent:
    """One browser: a cookie jar and the provider's pages driven by their forms over HTTP."""

    def __init__(self, provider: OidcProvider):
        self.provider = provider
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def _send(self, method: str, url: str, form: dict | None = None) -> tuple[int, dict, str]:
        if not url.startswith("http"):
            url = self.provider.issuer + url
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            request.add_header("content-type", "application/x-www-form-urlencoded")
        try:
            with self.opener.open(request, timeout=15) as answer:
                return answer.status, dict(answer.headers), answer.read().decode()
        except urllib.error.HTTPError as err:  # 3xx (no redirect handler) and 4xx/5xx
            return err.code, dict(err.headers), err.read().decode()

    def _follow(self, method: str, url: str, form: dict | None = None, stop_at: str | None = None):
        """Sends, then follows redirects (GET) until a page, or a redirect to `stop_at`."""
        status, headers, body = self._send(method, url, form)
        for _ in range(10):
            if status not in (302, 303):
                return status, headers, body, url
            url = urllib.parse.urljoin(url if url.startswith("http") else self.provider.issuer + url,
                                       headers["Location"])
            if stop_at and url.startswith(stop_at):
                return status, headers, body, url
            status, headers, body = self._send("GET", url)
        raise AssertionError(f"too many redirects, last {url}")

    def _interaction(self, status: int, body: str, url: str, prompt: str) -> tuple[int, dict, str, str]:
        assert status == 200 and "/interaction/" in url, (status, url, body[:300])
        action = re.search(r'<form[^>]*action="([^"]+)"', body)
        assert action, body[:500]
        form = {"prompt": prompt}
        if prompt == "login":
            form.update(login=self.user, password="any")
        return self._follow("POST", html.unescape(action.group(1)), form, stop_at=self.client.redirect_uri)

    def login(self, user: str, client_id: str = "api-client") -> Login:
        """Authorization code flow with PKCE: /auth → login → consent (when asked) → code →
        /token with `resource` → a JWT access token for the API and an ID token."""
        self.user = user
        self.client = self.provider.clients[client_id]
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state = secrets.token_urlsafe(12)
        query = urllib.parse.urlencode({
            "client_id": client_id, "response_type": "code", "redirect_uri": self.client.redirect_uri,
            "scope": "openid api", "resource": self.provider.resource, "state": state,
            "code_challenge": challenge, "code_challenge_method": "S256",
        })
        auth = self.provider.discovery["authorization_endpoint"]
        status, headers, body, url = self._follow("GET", f"{auth}?{query}", stop_at=self.client.redirect_uri)
        for _ in range(3):  # login (when there is no session yet), then consent
            if url.startswith(self.client.redirect_uri):
                break
            prompt = "login" if 'name="login"' in body else "consent"
            status, headers, body, url = self._interaction(status, body, url, prompt)
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        assert params.get("state") == state and "code" in params, (url, body[:300])
        status, _, body = self._send("POST", self.provider.discovery["token_endpoint"], {
            "grant_type": "authorization_code", "code": params["code"], "redirect_uri": self.client.redirect_uri,
            "code_verifier": verifier, "client_id": client_id, "client_secret": self.client.client_secret,
            "resource": self.provider.resource,
        })
        assert status == 200, (status, body)
        tokens = json.loads(body)
        return Login(tokens["access_token"], tokens["id_token"], client_id)

    def logout(self, login: Login, everywhere: bool = True) -> int:
        """RP-initiated logout: GET /session/end with the ID token as hint, then the confirmation
        form's POST (`logout=yes`: every client of the session). The provider sends its back-channel
        logouts before it answers the POST. Returns the POST's status."""
        end = self.provider.discovery["end_session_endpoint"]
        query = urllib.parse.urlencode({"id_token_hint": login.id_token})
        status, _, body = self._send("GET", f"{end}?{query}")
        assert status == 200, (status, body[:300])
        action = re.search(r'<form[^>]*action="([^"]+)"', body)
        xsrf = re.search(r'name="xsrf" value="([^"]+)"', body)
        assert action and xsrf, body[:500]
        form = {"xsrf": xsrf.group(1)}
        if everywhere:
            form["logout"] = "yes"
        status, _, body = self._send("POST", html.unescape(action.group(1)), form)
        assert status in (302, 303), (status, body[:300])
        return status


class Transmitter:
    """e2e/idp/transmitter.mjs: an identity provider that pushes Security Event Tokens, signing
    with an ES256 key it makes at start (node `jose`); serves its JWKS at /jwks.json."""

    def __init__(self, workdir: Path):
        _require_modules()
        self.port = harness.free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.jwks_uri = f"{self.issuer}/jwks.json"
        self.proc = harness.Process(f"transmitter:{self.port}", [node_bin(), str(IDP_DIR / "transmitter.mjs"),
                                    str(self.port)], workdir / f"transmitter-{self.port}.log", cwd=IDP_DIR)

    def start(self) -> Transmitter:
        self.proc.start()
        harness.wait_until(lambda: harness.http_request(self.port, "GET", "/jwks.json", timeout=2).status == 200,
                           f"transmitter on {self.port}", proc=self.proc)
        return self

    def stop(self) -> None:
        self.proc.stop()

    def sign(self, claims: dict, typ: str, key: str = "transmitter") -> str:
        return _post_json(self.port, "/sign", {"claims": claims, "typ": typ, "key": key})["jwt"]
