# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fabric's MTU made to last: which tool configures an interface, and what to write there.

The tool is the one that configures the fabric interface on the node, in this order: netplan (where it defines the
interface, whatever its renderer: NetworkManager on DGX OS, systemd-networkd on Ubuntu Server), NetworkManager
(a connection of its own on the device), systemd-networkd (a .network file matching the device). The module
fabric_mtu runs the commands; these functions read their output and make what it writes.
"""

from __future__ import annotations

import json
import re

NETPLAN_FILE = "/etc/netplan/90-stacked-sparks-fabric.yaml"
NETWORKD_DIR = "/etc/systemd/network"
NETWORKD_DROPIN = "90-stacked-sparks-mtu.conf"
NM_PREFIX = "stacked-sparks-"
HEADER = "# Written by stacked_sparks.vllm (cluster_fabric_mtu): the MTU of the cluster's fabric.\n"
_NETWORK_FILE = re.compile(r"^\s*Network File:\s*(\S+)\s*$", re.MULTILINE)


class MtuError(ValueError):
    pass


def netplan_id(ethernets, interface):
    """The netplan ID that defines interface among ethernets (`netplan get ethernets`, parsed): the ID of that
    name without a match, or one whose set-name or match.name is the interface. None where netplan does not."""
    for key, definition in (ethernets or {}).items():
        definition = definition if isinstance(definition, dict) else {}
        match = definition.get("match") if isinstance(definition.get("match"), dict) else {}
        named = definition.get("set-name") == interface or match.get("name") == interface
        if named or (key == interface and not match):
            return key
    return None


def netplan_text(mtus):
    """The netplan file that gives each ID its MTU ({id: mtu}); netplan merges it into the IDs' definitions."""
    lines = [HEADER.rstrip("\n"), "network:", "  version: 2", "  ethernets:"]
    for key in sorted(mtus):
        lines += [f"    {json.dumps(key)}:", f"      mtu: {int(mtus[key])}"]
    return "\n".join(lines) + "\n"


def nm_value(text):
    """One value of `nmcli -g ...`: None where empty or '--'."""
    value = (text or "").strip()
    return None if value in ("", "--") else value


def nm_mtu(text):
    """802-3-ethernet.mtu as `nmcli -g` prints it: an int, or None for auto (the driver's)."""
    value = nm_value(text)
    if value is None or value == "auto":
        return None
    try:
        return int(value) or None
    except ValueError:
        raise MtuError(f"cannot read the MTU NetworkManager gives: {value!r}") from None


def networkd_file(text):
    """The .network file systemd-networkd configures a link with (`networkctl status <link>`), or None."""
    found = _NETWORK_FILE.search(text or "")
    return None if not found or found.group(1) == "n/a" else found.group(1)


def networkd_dropin(mtu):
    """A drop-in for a link's .network file that sets its MTU."""
    return f"{HEADER}[Link]\nMTUBytes={int(mtu)}\n"


def networkd_network(interface, mtu):
    """A .network file for a link networkd does not configure yet (a twin without an address): its MTU and no
    address of any kind."""
    return (f"{HEADER}[Match]\nName={interface}\n\n[Link]\nMTUBytes={int(mtu)}\n\n"
            "[Network]\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n")


def nm_add_args(interface, mtu):
    """nmcli's arguments for a connection of a device that NetworkManager has none for: its MTU, no address."""
    return ["connection", "add", "type", "ethernet", "ifname", interface, "con-name", NM_PREFIX + interface,
            "802-3-ethernet.mtu", str(int(mtu)), "ipv4.method", "disabled", "ipv6.method", "disabled"]
