# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: fabric_mtu
short_description: Give the fabric interface an MTU that lasts, in the configuration the node already uses
version_added: 0.1.0
description:
  - Sets the MTU of O(interface) (and, with O(twins), of the same port's net devices in the other PCI domains, both
    halves of a DGX Spark's cabled port, each with its RoCE device) now, with C(ip link set), and for good, in the
    configuration of the tool that configures O(interface) on the node, looked for in this order.
  - netplan, where it defines O(interface) (by its name, C(set-name) or C(match.name), whatever its renderer) gets
    one file, C(/etc/netplan/90-stacked-sparks-fabric.yaml) (root's alone), that netplan merges into the
    definitions; checked with C(netplan generate), and put back as it was when that fails.
  - NetworkManager, where the device has a connection, gets C(802-3-ethernet.mtu) of that connection set (a twin
    without one gets a connection C(stacked-sparks-<device>) with no address).
  - systemd-networkd, where a .network file configures the link, gets a drop-in C(90-stacked-sparks-mtu.conf) beside
    it in C(/etc/systemd/network) (a twin without one gets C(90-stacked-sparks-<device>.network) with no address).
  - The running tools (systemd-networkd, NetworkManager) are told to read their configuration again, so that a link
    that comes up again keeps the MTU.
  - Fails, changing nothing, where none of them configures O(interface).
  - Changes only what differs; a link whose MTU changes may pause for a moment.
extends_documentation_fragment:
  - stacked_sparks.vllm.attributes
author:
  - stacked_sparks maintainers (@stacked-sparks)
requirements:
  - iproute2 (C(ip)); the configuring tool's command (C(netplan), C(nmcli) or C(networkctl)); PyYAML where netplan
    configures the interface (netplan's own dependency).
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  interface:
    description: The fabric's net device.
    type: str
    required: true
  mtu:
    description: The MTU, in bytes.
    type: int
    required: true
  twins:
    description: Whether the net devices of the same port in other PCI domains get the MTU too (where they exist).
    type: bool
    default: true
notes:
  - Requires root (C(become)).
"""

EXAMPLES = r"""
- name: MTU 9000 on the fabric, for good
  become: true
  stacked_sparks.vllm.fabric_mtu:
    interface: enp1s0f1np1
    mtu: 9000
"""

RETURN = r"""
tool:
  description: What configures the interface, and now keeps its MTU.
  returned: success
  type: str
  choices: [netplan, NetworkManager, systemd-networkd]
  sample: netplan
interfaces:
  description: The net devices given the MTU, with the MTU each had before.
  returned: success
  type: dict
  sample: {"enp1s0f1np1": 1500, "enP2p1s0f1np1": 1500}
kept_in:
  description: Where the MTU is kept (files, or NetworkManager connections).
  returned: success
  type: list
  elements: str
  sample: [/etc/netplan/90-stacked-sparks-fabric.yaml]
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.files import keep_file
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.mtu import (
    NETPLAN_FILE,
    NETWORKD_DIR,
    NETWORKD_DROPIN,
    NM_PREFIX,
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
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.preflight import port_twins

SYS_NET = "/sys/class/net"


class Node:
    """The commands of the configuring tools on the node."""

    def __init__(self, module):
        self.module = module

    def run(self, *argv, check=True):
        rc, out, err = self.module.run_command(list(argv))
        if check and rc != 0:
            self.module.fail_json(msg=f"{' '.join(argv)} failed (rc {rc}): {err.strip() or out.strip()}")
        return rc, out

    def tool(self, name):
        return self.module.get_bin_path(name)

    def netplan_ethernets(self):
        """netplan's merged ethernets, or None where the node has no netplan."""
        netplan = self.tool("netplan")
        if not netplan:
            return None
        rc, out = self.run(netplan, "get", "ethernets", check=False)
        if rc != 0:
            return None
        try:
            import yaml
        except ImportError:
            self.module.fail_json(msg="netplan is on the node but PyYAML is not, for the module to read it")
        return yaml.safe_load(out) or {}

    def nm_connection(self, interface):
        nmcli = self.tool("nmcli")
        if not nmcli:
            return None
        rc, out = self.run(nmcli, "-g", "GENERAL.CONNECTION", "device", "show", interface, check=False)
        return nm_value(out) if rc == 0 else None

    def reload(self):
        """Have the running tools read the changed configuration, so a link that comes up again keeps the MTU:
        systemd-networkd (netplan's networkd renderer, or its own files) and NetworkManager (netplan's NM renderer)."""
        for argv in (("networkctl", "reload"), ("nmcli", "connection", "reload")):
            path = self.tool(argv[0])
            if path:
                self.run(path, *argv[1:], check=False)   # not running: nothing to tell

    def networkd_file(self, interface):
        networkctl = self.tool("networkctl")
        if not networkctl:
            return None
        rc, out = self.run(networkctl, "status", "--no-pager", interface, check=False)
        return networkd_file(out) if rc == 0 else None


def runtime_mtu(interface):
    with open(os.path.join(SYS_NET, interface, "mtu")) as handle:
        return int(handle.read().strip())


def keep_netplan(module, node, ethernets, names, mtu):
    text = netplan_text({netplan_id(ethernets, name) or name: mtu for name in names})
    try:
        with open(NETPLAN_FILE) as handle:
            before = handle.read()
    except FileNotFoundError:
        before = None
    changed = keep_file(NETPLAN_FILE, text, module.check_mode, mode=0o600, dir_mode=0o755)
    if changed and not module.check_mode:
        rc, out, err = module.run_command([node.tool("netplan"), "generate"])
        if rc != 0:
            keep_file(NETPLAN_FILE, before, False, mode=0o600, dir_mode=0o755)
            module.fail_json(msg=f"netplan generate refused {NETPLAN_FILE} (put back as it was): "
                                 f"{err.strip() or out.strip()}")
        node.reload()
    return changed, [NETPLAN_FILE]


def keep_networkmanager(module, node, names, mtu):
    nmcli, changed, kept = node.tool("nmcli"), False, []
    for name in names:
        connection = node.nm_connection(name)
        if connection is None:
            rc, _out = node.run(nmcli, "-g", "connection.id", "connection", "show", NM_PREFIX + name, check=False)
            connection = NM_PREFIX + name if rc == 0 else None
        kept.append(connection or NM_PREFIX + name)
        if connection is None:
            changed = True
            if not module.check_mode:
                node.run(nmcli, *nm_add_args(name, mtu))
            continue
        _rc, out = node.run(nmcli, "-g", "802-3-ethernet.mtu", "connection", "show", connection)
        if nm_mtu(out) != mtu:
            changed = True
            if not module.check_mode:
                node.run(nmcli, "connection", "modify", connection, "802-3-ethernet.mtu", str(mtu))
    return changed, kept


def keep_networkd(module, node, names, mtu):
    changed, kept = False, []
    for name in names:
        network = node.networkd_file(name)
        if network is not None and not os.path.basename(network).startswith("90-stacked-sparks-"):
            path = os.path.join(NETWORKD_DIR, os.path.basename(network) + ".d", NETWORKD_DROPIN)
            text = networkd_dropin(mtu)
        else:
            path = os.path.join(NETWORKD_DIR, f"90-stacked-sparks-{name}.network")
            text = networkd_network(name, mtu)
        changed = keep_file(path, text, module.check_mode, mode=0o644, dir_mode=0o755) or changed
        kept.append(path)
    if changed and not module.check_mode:
        node.reload()
    return changed, kept


def main():
    module = AnsibleModule(
        argument_spec={
            "interface": {"type": "str", "required": True},
            "mtu": {"type": "int", "required": True},
            "twins": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    interface, mtu = module.params["interface"], module.params["mtu"]
    if not os.path.isdir(os.path.join(SYS_NET, interface)):
        module.fail_json(msg=f"no net device {interface} on this node")
    names = port_twins(interface, os.listdir(SYS_NET)) if module.params["twins"] else [interface]
    node = Node(module)
    try:
        ethernets = node.netplan_ethernets()
        if ethernets is not None and netplan_id(ethernets, interface) is not None:
            tool, (changed, kept) = "netplan", keep_netplan(module, node, ethernets, names, mtu)
        elif node.nm_connection(interface) is not None:
            tool, (changed, kept) = "NetworkManager", keep_networkmanager(module, node, names, mtu)
        elif node.networkd_file(interface) is not None:
            tool, (changed, kept) = "systemd-networkd", keep_networkd(module, node, names, mtu)
        else:
            module.fail_json(msg=f"none of netplan, NetworkManager and systemd-networkd configures {interface} on "
                                 "this node: set its MTU where its configuration lives")
    except MtuError as exc:
        module.fail_json(msg=str(exc))
    before = {name: runtime_mtu(name) for name in names}
    for name, current in before.items():
        if current != mtu:
            changed = True
            if not module.check_mode:
                node.run(node.tool("ip") or "ip", "link", "set", "dev", name, "mtu", str(mtu))
    module.exit_json(changed=changed, tool=tool, interfaces=before, kept_in=kept)


if __name__ == "__main__":
    main()
