"""Module fabric_mtu against a fake node: netplan, NetworkManager or systemd-networkd configures the interface."""

from __future__ import annotations

import pytest
import yaml
from ansible.module_utils import basic
from ansible_collections.stacked_sparks.vllm.plugins.modules import fabric_mtu

ARGS = {"interface": "enp1s0f1np1", "mtu": 9000}


class FakeNode:
    """The node's tools and files: which tool has which configuration, the links' MTUs, the commands run."""

    def __init__(self, tmp_path, tools, links=("enp1s0f1np1", "enP2p1s0f1np1", "enp1s0f0np0")):
        self.tools = set(tools)
        self.mtus = {name: 1500 for name in links}
        self.netplan = {}             # id -> definition
        self.nm = {}                  # device -> connection name
        self.nm_mtu = {}              # connection -> mtu
        self.networkd = {}            # device -> .network file
        self.ran = []
        self.generate_rc = 0
        self.sys = tmp_path / "sys"
        for name in links:
            (self.sys / name).mkdir(parents=True)
        self.write_links()

    def write_links(self):
        for name, mtu in self.mtus.items():
            (self.sys / name / "mtu").write_text(f"{mtu}\n")

    def bin(self, name, required=False):
        return f"/usr/bin/{name}" if name in self.tools | {"ip"} else None

    def run(self, argv, **_kw):
        argv = [argv[0].rsplit("/", 1)[-1], *argv[1:]]
        self.ran.append(argv)
        match argv:
            case ["netplan", "get", "ethernets"]:
                return 0, yaml.safe_dump(self.netplan) if self.netplan else "null\n", ""
            case ["netplan", "generate"]:
                return self.generate_rc, "", "Error in network definition" if self.generate_rc else ""
            case ["nmcli", "-g", "GENERAL.CONNECTION", "device", "show", device]:
                return (0, self.nm.get(device, "") + "\n", "") if device in self.mtus else (10, "", "no device")
            case ["nmcli", "-g", "connection.id", "connection", "show", name]:
                return (0, name + "\n", "") if name in self.nm_mtu else (10, "", "no such connection")
            case ["nmcli", "-g", "802-3-ethernet.mtu", "connection", "show", name]:
                return 0, str(self.nm_mtu.get(name) or "auto") + "\n", ""
            case ["nmcli", "connection", "modify", name, "802-3-ethernet.mtu", mtu]:
                self.nm_mtu[name] = int(mtu)
                return 0, "", ""
            case ["nmcli", "connection", "add", *rest]:
                self.nm_mtu[rest[rest.index("con-name") + 1]] = int(rest[rest.index("802-3-ethernet.mtu") + 1])
                return 0, "", ""
            case ["networkctl", "status", "--no-pager", device]:
                network = self.networkd.get(device, "n/a")
                return 0, f"\u25cf 2: {device}\n                  Network File: {network}\n", ""
            case ["ip", "link", "set", "dev", device, "mtu", mtu]:
                self.mtus[device] = int(mtu)
                self.write_links()
                return 0, "", ""
            case [("networkctl" | "nmcli"), *_reload]:
                return 0, "", ""
        raise AssertionError(f"unexpected command {argv}")


@pytest.fixture
def node(monkeypatch, tmp_path):
    def make(tools):
        fake = FakeNode(tmp_path, tools)
        monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, argv, **kw: fake.run(argv, **kw))
        monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, required=False: fake.bin(name))
        monkeypatch.setattr(fabric_mtu, "SYS_NET", str(fake.sys))
        monkeypatch.setattr(fabric_mtu, "NETPLAN_FILE", str(tmp_path / "netplan" / "90-stacked-sparks-fabric.yaml"))
        monkeypatch.setattr(fabric_mtu, "NETWORKD_DIR", str(tmp_path / "networkd"))
        return fake
    return make


def changes(ran):
    return [argv for argv in ran if argv[:2] in (["ip", "link"], ["nmcli", "connection"], ["netplan", "generate"])
            and argv[2:3] != ["reload"]]


def test_netplan_keeps_the_mtu_of_the_interface_and_its_twin_in_one_file(run_module, node, tmp_path):
    fake = node({"netplan", "nmcli", "networkctl"})
    fake.netplan = {"enp1s0f1np1": {"renderer": "NetworkManager", "link-local": ["ipv4"]},
                    "NM-6b1e": {"match": {"name": "enP2p1s0f1np1"}}}
    first = run_module(fabric_mtu.main, ARGS)
    assert first["changed"] is True and first["tool"] == "netplan"
    assert first["interfaces"] == {"enP2p1s0f1np1": 1500, "enp1s0f1np1": 1500}   # not the other port, f0
    kept = tmp_path / "netplan" / "90-stacked-sparks-fabric.yaml"
    ethernets = yaml.safe_load(kept.read_text())["network"]["ethernets"]
    assert ethernets == {"NM-6b1e": {"mtu": 9000}, "enp1s0f1np1": {"mtu": 9000}}
    assert oct(kept.stat().st_mode & 0o777) == "0o600"
    assert ["netplan", "generate"] in fake.ran and fake.mtus["enP2p1s0f1np1"] == 9000
    assert fake.mtus["enp1s0f0np0"] == 1500
    fake.ran.clear()
    second = run_module(fabric_mtu.main, ARGS)
    assert second["changed"] is False and changes(fake.ran) == []


def test_netplan_refusing_the_file_puts_it_back(run_module, node, tmp_path):
    fake = node({"netplan"})
    fake.netplan = {"enp1s0f1np1": {"addresses": ["192.168.100.10/24"]}}
    fake.generate_rc = 1
    result = run_module(fabric_mtu.main, ARGS)
    assert result["failed"] and "netplan generate refused" in result["msg"] and "put back" in result["msg"]
    assert not (tmp_path / "netplan" / "90-stacked-sparks-fabric.yaml").exists()
    assert fake.mtus["enp1s0f1np1"] == 1500


def test_networkmanager_sets_the_connection_and_adds_one_for_a_twin_without(run_module, node):
    fake = node({"nmcli"})
    fake.nm = {"enp1s0f1np1": "Wired connection 1"}
    fake.nm_mtu = {"Wired connection 1": None}
    first = run_module(fabric_mtu.main, ARGS)
    assert first["changed"] is True and first["tool"] == "NetworkManager"
    assert first["kept_in"] == ["stacked-sparks-enP2p1s0f1np1", "Wired connection 1"]
    assert fake.nm_mtu == {"Wired connection 1": 9000, "stacked-sparks-enP2p1s0f1np1": 9000}
    fake.ran.clear()
    assert run_module(fabric_mtu.main, ARGS)["changed"] is False and changes(fake.ran) == []


def test_networkd_gets_a_drop_in_beside_the_links_file(run_module, node, tmp_path):
    fake = node({"networkctl"})
    fake.networkd = {"enp1s0f1np1": "/run/systemd/network/70-enp1s0f1np1.network"}
    first = run_module(fabric_mtu.main, ARGS)
    assert first["tool"] == "systemd-networkd" and first["changed"] is True
    dropin = tmp_path / "networkd" / "70-enp1s0f1np1.network.d" / "90-stacked-sparks-mtu.conf"
    assert dropin.read_text().endswith("[Link]\nMTUBytes=9000\n")
    twin = tmp_path / "networkd" / "90-stacked-sparks-enP2p1s0f1np1.network"
    assert "Name=enP2p1s0f1np1" in twin.read_text()
    fake.networkd["enP2p1s0f1np1"] = str(twin)   # networkd now configures the twin by the collection's file
    fake.ran.clear()
    assert run_module(fabric_mtu.main, ARGS)["changed"] is False and changes(fake.ran) == []


def test_a_runtime_mtu_changed_by_hand_is_set_again(run_module, node):
    fake = node({"networkctl"})
    fake.networkd = {"enp1s0f1np1": "/run/systemd/network/70-enp1s0f1np1.network"}
    run_module(fabric_mtu.main, dict(ARGS, twins=False))
    fake.mtus["enp1s0f1np1"] = 1500
    fake.write_links()
    again = run_module(fabric_mtu.main, dict(ARGS, twins=False))
    assert again["changed"] is True and again["interfaces"] == {"enp1s0f1np1": 1500}
    assert fake.mtus == {"enp1s0f1np1": 9000, "enP2p1s0f1np1": 1500, "enp1s0f0np0": 1500}


def test_check_mode_changes_nothing(run_module, node, tmp_path):
    fake = node({"networkctl"})
    fake.networkd = {"enp1s0f1np1": "/run/systemd/network/70-enp1s0f1np1.network"}
    result = run_module(fabric_mtu.main, dict(ARGS, _ansible_check_mode=True))
    assert result["changed"] is True and changes(fake.ran) == [] and not (tmp_path / "networkd").exists()


def test_no_tool_configures_the_interface(run_module, node):
    fake = node({"networkctl"})
    result = run_module(fabric_mtu.main, ARGS)
    assert result["failed"] and result["msg"] == ("none of netplan, NetworkManager and systemd-networkd configures "
                                                  "enp1s0f1np1 on this node: set its MTU where its configuration lives")
    assert changes(fake.ran) == []
    assert run_module(fabric_mtu.main, dict(ARGS, interface="eth9"))["msg"] == "no net device eth9 on this node"
