"""Host allow-list, Origin matching and trusted-proxy client addresses (pure)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anibridge.app.web.hosts import (
    HostPolicy,
    forwarded_client,
    host_of,
    parse_proxies,
    parse_public_url,
)


@pytest.mark.parametrize(
    ("header", "host"),
    [
        ("localhost:4848", "localhost"),
        ("LocalHost.", "localhost"),
        ("[::1]:4848", "::1"),
        ("127.0.0.1", "127.0.0.1"),
        ("a.example:443", "a.example"),
        ("", None),
        ("a.example:x", None),
        ("[::1", None),
        ("[nope]:1", None),
        ("evil.example/path", None),
        ("user@evil.example", None),
    ],
)
def test_host_of(header, host):
    assert host_of(header) == host


def test_default_policy_answers_the_bind_address_loopback_and_public_url():
    policy = HostPolicy.build(
        bind_host="nas.lan", public_url="https://anibridge.example.com/ab"
    )
    for host in ("localhost", "127.0.0.1", "::1", "nas.lan", "anibridge.example.com"):
        assert policy.allows(host)
    assert not policy.allows("evil.example")
    assert not policy.allows(None)
    assert policy.allows("192.168.1.20")  # IP literals cannot be rebound


def test_wildcards_and_extra_names():
    policy = HostPolicy.build(
        bind_host="0.0.0.0", allowed=["*.example.com", "media.lan"]
    )
    assert policy.allows("a.example.com") and policy.allows("b.c.example.com")
    assert not policy.allows("example.com.evil.net")
    assert not policy.allows("badexample.com")
    assert policy.allows("media.lan")
    assert not policy.allows("0.0.0.0.evil.example")


@pytest.mark.parametrize("bad", ["*", "", "a b", "ex*ample.com", "a.*.com", "x/y"])
def test_bad_allowed_hosts_are_refused_with_the_setting_named(bad):
    with pytest.raises(ValueError, match=r"web\.allowed_hosts"):
        HostPolicy.build(bind_host="127.0.0.1", allowed=[bad])


def test_origin_must_be_the_service_itself_port_included():
    policy = HostPolicy.build(bind_host="127.0.0.1", public_url="https://ab.example")
    assert policy.allows_origin("http://127.0.0.1:4848", "127.0.0.1:4848")
    assert not policy.allows_origin("http://127.0.0.1:3000", "127.0.0.1:4848")
    assert not policy.allows_origin("http://localhost:4848", "127.0.0.1:4848")
    assert not policy.allows_origin("http://evil.example", "evil.example")
    assert policy.allows_origin("https://ab.example", "127.0.0.1:4848")  # via proxy
    assert not policy.allows_origin("http://ab.example", "127.0.0.1:4848")
    assert not policy.allows_origin("null", "127.0.0.1:4848")


def test_public_url_must_be_http():
    assert parse_public_url("https://A.example:8443/x") == (
        "https://a.example:8443",
        "a.example",
    )
    with pytest.raises(ValueError, match="not an http"):
        parse_public_url("ftp://a.example")


@pytest.mark.parametrize("everyone", ["*", "0.0.0.0/0", "::/0", ""])
def test_trusting_everyone_is_refused(everyone):
    with pytest.raises(ValueError, match="every"):
        parse_proxies([everyone])


def test_bad_proxy_entries_are_refused():
    with pytest.raises(ValueError, match="not an IP address or CIDR"):
        parse_proxies(["proxy.lan"])
    assert parse_proxies(["10.0.0.5", "172.18.0.0/16", "[::1]"])[2].prefixlen == 128


PROXY = parse_proxies(["10.0.0.5", "172.18.0.0/16"])


def test_forwarded_for_is_ignored_from_untrusted_peers():
    assert forwarded_client("203.0.113.9", ["1.2.3.4"], PROXY) == "203.0.113.9"
    assert forwarded_client("203.0.113.9", ["1.2.3.4"], ()) == "203.0.113.9"


def test_forwarded_for_is_read_from_the_right_through_trusted_hops():
    # The client wrote "1.2.3.4" itself; the proxy appended the real address.
    hops = ["1.2.3.4, 198.51.100.7"]
    assert forwarded_client("10.0.0.5", hops, PROXY) == "198.51.100.7"
    chain = ["198.51.100.7, 172.18.0.3"]  # two trusted proxies in a row
    assert forwarded_client("10.0.0.5", chain, PROXY) == "198.51.100.7"
    assert forwarded_client("10.0.0.5", ["garbage"], PROXY) == "10.0.0.5"
    assert forwarded_client("10.0.0.5", [], PROXY) == "10.0.0.5"


@settings(deadline=None)
@given(st.lists(st.ip_addresses(v=4).map(str), max_size=5))
def test_a_client_cannot_choose_its_address_behind_a_proxy(spoofed):
    """Whatever a client puts in the header, the proxy's appended hop wins."""
    real = "198.51.100.7"
    header = ", ".join([*spoofed, real])
    assert forwarded_client("10.0.0.5", [header], PROXY) == real
    assert ipaddress.ip_address(real) not in PROXY[1]
