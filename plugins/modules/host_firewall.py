# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: host_firewall
short_description: Keep a node's cluster ports to loopback and the fabric, as one iptables rule set
version_added: 0.1.0
description:
  - Keeps one chain, O(chain), which C(INPUT) jumps to first, for IPv4 and (where the kernel has it) IPv6. In
    order, what comes from loopback or from O(fabric_network) goes on through C(INPUT); new TCP connections
    from anywhere else to one of O(closed_ports) are dropped. Everything else is untouched.
  - Reads the chain with C(iptables -S) and compares it with these rules (every rule's comment carries a tag
    of the whole set). Only when they differ (a changed setting, a rule added or removed by hand, no chain) it
    replaces the chain's rules in one C(iptables-restore --noflush) transaction, so there is no moment with
    half the rules.
  - With O(rules_dir), it also keeps the rules in files, as C(iptables-restore --noflush) reads them on a
    node without the chain (after a boot), for the container that puts them back before Ray starts.
  - With O(state=absent) it removes the chain and the jump to it, and the files.
extends_documentation_fragment:
  - stacked_sparks.vllm.attributes
author:
  - stacked_sparks maintainers (@stacked-sparks)
requirements:
  - iptables (and ip6tables for IPv6), with iptables-restore, on the target.
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff shows the chain's rules before and after, per family.
  idempotent:
    support: full
options:
  chain:
    description: The chain's name.
    type: str
    default: STACKED-SPARKS
  state:
    description: Whether the chain is in place (V(present)) or removed (V(absent)).
    type: str
    choices: [present, absent]
    default: present
  fabric_network:
    description:
      - The network, in CIDR notation, whose traffic goes on through C(INPUT) untouched (the cluster's fabric).
      - Its rule is in the chain of its own family only.
    type: str
  closed_ports:
    description:
      - TCP ports that new connections from outside loopback and O(fabric_network) may not reach, as ports or
        C(low:high) ranges.
      - V(ephemeral) stands for the kernel's ephemeral port range (C(net.ipv4.ip_local_port_range)).
    type: list
    elements: str
    default: []
  rules_dir:
    description:
      - A directory (made if missing, root's alone) in which the rules are kept as C(<chain>.<family>) (for
        example C(STACKED-SPARKS.ipv4)), as the input of C(iptables-restore --noflush) that makes the chain,
        fills it and makes C(INPUT) jump to it first on a node without the chain.
      - A file is written only when its content differs, and counts as a change.
    type: path
  wait:
    description: Seconds to wait for the xtables lock.
    type: int
    default: 10
notes:
  - Requires root (C(become)).
seealso:
  - module: ansible.builtin.iptables
"""

EXAMPLES = r"""
- name: Keep Ray's ports to loopback and the fabric
  become: true
  stacked_sparks.vllm.host_firewall:
    fabric_network: 192.168.100.0/24
    closed_ports: ["6379", "8265", "10002:10100", ephemeral]
    rules_dir: /etc/stacked-sparks/firewall

- name: Remove the chain
  become: true
  stacked_sparks.vllm.host_firewall:
    state: absent
"""

RETURN = r"""
families:
  description: The address families the chain is kept for.
  returned: success
  type: list
  elements: str
  sample: [ipv4, ipv6]
rules:
  description: The chain's rules per family, as C(iptables -S) lists them.
  returned: success, with O(state=present)
  type: dict
  sample: {"ipv4": ["-A STACKED-SPARKS -i lo -m comment --comment \"stacked_sparks.vllm 0123456789: loopback\" -j RETURN"]}
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.files import keep_file
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.firewall import (
    FirewallError,
    chain_rules,
    in_place,
    removal_input,
    restore_input,
    rule_set,
)

EPHEMERAL = "/proc/sys/net/ipv4/ip_local_port_range"
COMMANDS = {"ipv4": ("iptables", "iptables-restore"), "ipv6": ("ip6tables", "ip6tables-restore")}


def main():
    module = AnsibleModule(
        argument_spec={
            "chain": {"type": "str", "default": "STACKED-SPARKS"},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "fabric_network": {"type": "str"},
            "closed_ports": {"type": "list", "elements": "str", "default": []},
            "rules_dir": {"type": "path"},
            "wait": {"type": "int", "default": 10},
        },
        supports_check_mode=True,
    )
    p = module.params
    chain = p["chain"]
    families = ["ipv4"] + (["ipv6"] if os.path.exists("/proc/net/if_inet6") else [])

    def run(argv, data=None):
        rc, out, err = module.run_command(argv, data=data, binary_data=True)
        return rc, out, err.strip()

    def read(family):
        """(the chain's listing or None when there is no chain, INPUT's listing)."""
        listing = module.get_bin_path(COMMANDS[family][0], required=True)
        rc, chain_out, _err = run([listing, "-w", str(p["wait"]), "-S", chain])
        rc_input, input_out, err = run([listing, "-w", str(p["wait"]), "-S", "INPUT"])
        if rc_input != 0:
            module.fail_json(msg=f"cannot read the INPUT chain with {COMMANDS[family][0]}: {err}")
        return (chain_out if rc == 0 else None), input_out

    def restore(family, text):
        binary = module.get_bin_path(COMMANDS[family][1], required=True)
        rc, _out, err = run([binary, "-w", str(p["wait"]), "--noflush"], data=text)
        if rc != 0:
            module.fail_json(msg=f"{COMMANDS[family][1]} refused the rules of {chain}: {err}", rules_text=text)

    closed = list(p["closed_ports"])
    if "ephemeral" in closed:
        with open(EPHEMERAL) as handle:
            closed[closed.index("ephemeral")] = handle.read()
    try:
        desired = rule_set(chain, families, p["fabric_network"], closed)
    except FirewallError as exc:
        module.fail_json(msg=f"{exc} (in fabric_network or closed_ports)")

    changed = False
    diff = {"before": "", "after": ""}
    for family in families:
        chain_listing, input_listing = read(family)
        before = chain_rules(chain_listing or "", chain)
        if p["state"] == "absent":
            if chain_listing is None:  # no chain, so nothing jumps to it
                continue
            text = removal_input(chain, input_listing)
            after = []
        elif in_place(desired[family], chain_listing, input_listing, chain):
            continue
        else:
            text = restore_input(desired[family], chain, input_listing, chain_listing is not None)
            after = desired[family]
        changed = True
        diff["before"] += "".join(f"{family}: {line}\n" for line in before)
        diff["after"] += "".join(f"{family}: {line}\n" for line in after)
        if module.check_mode:
            continue
        restore(family, text)

    for family in families:     # the files for a node without the chain
        if not p["rules_dir"]:
            break
        path = os.path.join(p["rules_dir"], f"{chain}.{family}")
        text = restore_input(desired[family], chain, "", False) if p["state"] == "present" else None
        if keep_file(path, text, module.check_mode):
            changed = True
            diff["after"] += f"{family}: {'wrote' if text else 'removed'} {path}\n"

    result = {"changed": changed, "families": families, "diff": diff}
    if p["state"] == "present":
        result["rules"] = desired
    module.exit_json(**result)


if __name__ == "__main__":
    main()
