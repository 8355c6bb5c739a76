"""The fabric's MTU: which configuration defines an interface, and what is written there."""

from __future__ import annotations

import pytest
import yaml
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.mtu import (
    MtuError,
    netplan_id,
    netplan_text,
    networkd_dropin,
    networkd_file,
    networkd_network,
    nm_add_args,
    nm_mtu,
    nm_value,
)

# NVIDIA's netplan for two Sparks ("Connect two Sparks", /etc/netplan/40-cx7.yaml), as `netplan get ethernets` shows
# it merged with the desktop's NetworkManager default, and an nmcli-made connection stored by NetworkManager 1.46
# (Ubuntu 24.04) as netplan's NM-<uuid> ID matched by name.
ETHERNETS = yaml.safe_load("""
enp1s0f0np0:
  renderer: NetworkManager
  link-local: [ipv4]
enp1s0f1np1:
  renderer: NetworkManager
  link-local: [ipv4]
NM-6b1e5c63-41d2-4a5e-9f57-1b0b3c5e8a11:
  renderer: NetworkManager
  match:
    name: enP2p1s0f1np1
  networkmanager:
    uuid: 6b1e5c63-41d2-4a5e-9f57-1b0b3c5e8a11
    name: Wired connection 2
lan:
  match:
    macaddress: "4c:bb:47:2c:31:e1"
  set-name: eno1
""")


@pytest.mark.parametrize(("interface", "expected"), [
    ("enp1s0f1np1", "enp1s0f1np1"),                                 # by its name
    ("enP2p1s0f1np1", "NM-6b1e5c63-41d2-4a5e-9f57-1b0b3c5e8a11"),   # by match.name
    ("eno1", "lan"),                                                # by set-name
    ("enP2p1s0f0np0", None),                                        # not defined
])
def test_netplan_id_finds_the_definition_of_an_interface(interface, expected):
    assert netplan_id(ETHERNETS, interface) == expected


def test_an_id_that_matches_another_interface_is_not_taken_for_its_name():
    assert netplan_id({"eth0": {"match": {"name": "eth1"}}}, "eth0") is None
    assert netplan_id(None, "eth0") is None


def test_netplan_text_merges_the_mtu_into_each_definition():
    text = netplan_text({"enp1s0f1np1": 9000, "NM-6b1e5c63-41d2-4a5e-9f57-1b0b3c5e8a11": 9000})
    assert text.startswith("# Written by stacked_sparks.vllm (cluster_fabric_mtu)")
    assert yaml.safe_load(text) == {"network": {"version": 2, "ethernets": {
        "NM-6b1e5c63-41d2-4a5e-9f57-1b0b3c5e8a11": {"mtu": 9000}, "enp1s0f1np1": {"mtu": 9000}}}}
    assert text == netplan_text({"NM-6b1e5c63-41d2-4a5e-9f57-1b0b3c5e8a11": 9000, "enp1s0f1np1": 9000})   # stable


def test_nmcli_values():
    assert nm_value("Wired connection 1\n") == "Wired connection 1"
    assert nm_value("--\n") is None and nm_value("") is None
    assert nm_mtu("auto\n") is None and nm_mtu("0") is None and nm_mtu("9000\n") == 9000
    with pytest.raises(MtuError, match="cannot read the MTU NetworkManager gives: 'jumbo'"):
        nm_mtu("jumbo")
    assert nm_add_args("enP2p1s0f1np1", 9000) == [
        "connection", "add", "type", "ethernet", "ifname", "enP2p1s0f1np1", "con-name", "stacked-sparks-enP2p1s0f1np1",
        "802-3-ethernet.mtu", "9000", "ipv4.method", "disabled", "ipv6.method", "disabled"]


# `networkctl status eth0` of a VM of the lab (systemd 252, Debian 12; the address from the kernel's ip=).
NETWORKCTL = """\u25cf 2: eth0
                     Link File: /usr/lib/systemd/network/99-default.link
                  Network File: /run/systemd/network/90-eth0.network
                         State: routable (configured)
                  Online state: online
                          Type: ether
                          Path: pci-0000:00:02.0
                        Driver: virtio_net
                        Vendor: Red Hat, Inc.
                         Model: Virtio network device
             Alternative Names: enp0s2
                                ens2
"""


def test_networkd_file_and_what_is_written_beside_it():
    assert networkd_file(NETWORKCTL) == "/run/systemd/network/90-eth0.network"
    assert networkd_file(NETWORKCTL.replace("/run/systemd/network/90-eth0.network", "n/a")) is None
    assert networkd_file("") is None
    assert networkd_dropin(9000).endswith("[Link]\nMTUBytes=9000\n")
    network = networkd_network("enP2p1s0f1np1", 9000)
    assert "[Match]\nName=enP2p1s0f1np1\n" in network and "MTUBytes=9000" in network
    assert "LinkLocalAddressing=no" in network
