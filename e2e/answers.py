"""Assertions on Warden's answers and on what the echo upstream received."""

from __future__ import annotations


def echoed_headers(response) -> dict[str, list[str]]:
    """The request headers the upstream received, name -> values."""
    seen: dict[str, list[str]] = {}
    for name, value in response.json()["headers"]:
        seen.setdefault(name, []).append(value)
    return seen


def assert_denied(response, reason: str) -> None:
    assert response.status == 401, response
    challenge = response.header("www-authenticate")
    assert challenge == f'Bearer realm="warden", error="invalid_token", error_description="{reason}"', response
    assert response.header("content-type") == "application/json", response
    assert response.json() == {"error": "invalid_token", "error_description": reason}, response


def assert_unavailable(response) -> None:
    assert response.status == 503, response
    assert response.header("content-type") == "application/json", response
    assert response.json() == {"error": "temporarily_unavailable", "error_description": "verifier_unavailable"}, response
